/**
 * A `pasarela` installed from the packed tarball, run as a user would: started until
 * its `ready` line, its output kept line by line, stopped with SIGTERM.
 */
import { spawn } from 'node:child_process';

/** A JSON log line of the command, or undefined for anything else. */
export function parseLogLine(line: string): { msg?: unknown; http?: unknown } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as { msg?: unknown; http?: unknown };
  } catch {
    return undefined;
  }
}

/** The installed command, started until its `ready` line; `lines` keeps its output. */
export async function startInstalled(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ http: number; lines: string[]; stop(): Promise<void> }> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const http = await new Promise<number>((resolve, reject) => {
      let partial = '';
      const timer = setTimeout(() => reject(new Error(`no ready line:\n${lines.join('\n')}`)), 20_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        for (const line of parts) {
          const record = parseLogLine(line);
          if (record?.msg === 'ready' && typeof record.http === 'number') {
            clearTimeout(timer);
            resolve(record.http);
          }
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`exited ${code}:\n${lines.join('\n')}`)));
    });
    return { http, lines, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The real `pasarela` command for tests, spawned from the TypeScript source (no
 * stale dist/): its output line by line, its JSON log lines, its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'gateway', 'cli.ts');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned `pasarela` (or a shell pipeline running it), with its output collected line by line. */
export class Run {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  private waiters: (() => void)[] = [];

  /**
   * `pasarela ARGS`; with `command`, that program and its args instead (e.g. a shell
   * pipeline, an installed `pasarela`). `extra.nodeArgs` go to node before the command,
   * `extra.env` to its environment, `extra.cwd` is where it runs (default the project).
   */
  constructor(args: string[], command: string = process.execPath, extra: { nodeArgs?: string[]; env?: Record<string, string>; cwd?: string } = {}) {
    const argv = command === process.execPath ? ['--import', 'tsx', ...(extra.nodeArgs ?? []), CLI, ...args] : args;
    const cwd = extra.cwd ?? ROOT;
    this.child = spawn(command, argv, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', ...extra.env },
    });
    this.collect(this.child.stdout!, this.stdout);
    this.collect(this.child.stderr!, this.stderr);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first stdout/stderr line that satisfies `test`. */
  async line(stream: 'stdout' | 'stderr', test: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const lines = stream === 'stdout' ? this.stdout : this.stderr;
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => {
      exited = true;
      this.wake();
    });
    for (;;) {
      const found = lines.find(test);
      if (found !== undefined) return found;
      if (exited) throw new Error(`exited before the line came\nstdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such line in time\nstdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The JSON log line whose msg is `msg`. */
  async log(msg: string): Promise<Record<string, unknown>> {
    const line = await this.line('stdout', (text) => parseJson(text)?.msg === msg);
    return parseJson(line)!;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  private collect(stream: NodeJS.ReadableStream, into: string[]): void {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      into.push(...parts);
      this.wake();
    });
    stream.on('end', () => {
      if (rest !== '') into.push(rest);
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

export function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Spawns `pasarela` processes for a test file; each is killed after its test. */
export function pasarelaRuns(): {
  pasarela(...args: string[]): Run;
  /** A shell command (bash -c), for pipelines such as `pasarela watch ... | head -3`. */
  shell(script: string): Run;
  /** Starts a gateway on free ports and waits for its `ready` line. */
  gateway(...args: string[]): Promise<{ run: Run; tcp: number; http: number }>;
} {
  const runs: Run[] = [];
  afterEach(() => {
    for (const run of runs.splice(0)) run.kill();
  });
  const track = (run: Run): Run => {
    runs.push(run);
    return run;
  };
  const pasarela = (...args: string[]): Run => track(new Run(args));
  return {
    pasarela,
    shell: (script) => track(new Run(['-c', script], 'bash')),
    async gateway(...args) {
      const run = pasarela('--tcp', '0', '--http', '0', ...args);
      const ready = await run.log('ready');
      return { run, tcp: ready.tcp as number, http: ready.http as number };
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

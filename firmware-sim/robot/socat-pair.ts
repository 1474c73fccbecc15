/**
 * A pseudo-terminal pair made by socat: a virtual null-modem cable with a serial
 * device node at each end (`a` for the gateway, `b` for the simulated robot).
 * Stopping socat is pulling the cable out; starting it again on the same link paths
 * is plugging it back in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type Logger, silentLogger } from '../../gateway/jstp/logger.js';

export interface SocatPairOptions {
  /** Folder for the two links, `a` and `b`. */
  dir: string;
  logger?: Logger;
  /** How long socat may take to create the pair (default 10 s). */
  startTimeoutMs?: number;
}

/** Resolves true when a socat executable runs here. */
export function socatAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('socat', ['-V'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

export class SocatPair {
  readonly a: string;
  readonly b: string;
  private readonly logger: Logger;
  private readonly startTimeoutMs: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(options: SocatPairOptions) {
    this.a = path.join(options.dir, 'a');
    this.b = path.join(options.dir, 'b');
    this.logger = options.logger ?? silentLogger();
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts socat and resolves once both links point at live PTYs. */
  async start(): Promise<void> {
    if (this.child) return;
    // Links left by a socat that was killed hard would point at PTYs that no longer exist.
    rmSync(this.a, { force: true });
    rmSync(this.b, { force: true });
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`socat did not create the PTY pair within ${this.startTimeoutMs} ms: ${output.trim()}`)), this.startTimeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        child.off('exit', onExit);
        child.off('error', fail);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      function fail(error: Error) {
        cleanup();
        reject(error);
      }
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        // socat's notice once both PTYs exist and it is relaying between them.
        if (output.includes('starting data transfer loop') && existsSync(this.a) && existsSync(this.b)) done();
      };
      const onExit = (code: number | null) => fail(new Error(`socat exited (${code}) before the PTY pair was up: ${output.trim()}`));
      child.stderr.on('data', onData);
      child.once('exit', onExit);
      child.once('error', fail);
    }).catch(async (error: unknown) => {
      await this.stop();
      throw error;
    });
    // Keep draining stderr so socat never blocks on a full pipe.
    child.stderr.on('data', () => {});
    this.logger.debug({ pid: child.pid, a: this.a, b: this.b }, 'socat PTY pair up');
  }

  /** Stops socat (SIGTERM, so it removes its links) and resolves once it exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(hard);
    rmSync(this.a, { force: true });
    rmSync(this.b, { force: true });
    this.logger.debug({ pid: child.pid }, 'socat PTY pair down');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

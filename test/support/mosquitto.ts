/**
 * A real mosquitto for tests and benches: started on a free loopback port with a
 * config of its own, stoppable and restartable on the same port (to test what
 * clients do when the broker goes away and comes back).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

function findBinary(): string | undefined {
  for (const candidate of BINARY_CANDIDATES) {
    try {
      execFileSync(candidate, ['-h'], { stdio: 'ignore' });
    } catch (error) {
      // `mosquitto -h` exits 3 after printing its help: it exists.
      if ((error as { status?: number }).status === undefined) continue;
    }
    return candidate;
  }
  return undefined;
}

/** The mosquitto binary; installs the Debian package when it is missing and we are root. */
export function mosquittoBinary(): string {
  let binary = findBinary();
  if (!binary && process.getuid?.() === 0) {
    execFileSync('apt-get', ['install', '-y', '-q', 'mosquitto'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    binary = findBinary();
  }
  if (!binary) throw new Error('mosquitto is not installed (apt-get install -y mosquitto)');
  return binary;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class Mosquitto {
  private child: ChildProcess | undefined;
  private readonly dir: string;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly binary: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pasarela-mosquitto-'));
    const config = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // stderr: unbuffered, so the "running" line arrives at once (stdout to a pipe is block-buffered).
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      // Started as root, mosquitto drops to its own user unless told to stay.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      // The bench publishes fast; never drop QoS 0 messages for a slow subscriber.
      'max_queued_messages 0',
      // Small messages go out at once instead of waiting on Nagle's algorithm.
      'set_tcp_nodelay true',
    ];
    writeFileSync(join(this.dir, 'mosquitto.conf'), `${config.join('\n')}\n`);
  }

  /** Starts a broker on a free port (or `port`). */
  static async start(port?: number): Promise<Mosquitto> {
    const binary = mosquittoBinary();
    for (let attempt = 0; ; attempt++) {
      const broker = new Mosquitto(port ?? (await freePort()), binary);
      try {
        await broker.launch();
        return broker;
      } catch (error) {
        broker.cleanup();
        // Another process may take a free port between our probe and mosquitto's bind.
        if (port !== undefined || attempt >= 4) throw error;
      }
    }
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** What mosquitto logged, for failure messages. */
  get log(): string {
    return this.output;
  }

  /** Stops the broker (clients see the connection drop); the port stays ours for `restart`. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** Starts it again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Stops it and removes its config. */
  async close(): Promise<void> {
    await this.stop();
    this.cleanup();
  }

  private cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private launch(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let settled = false;
      // Only this launch's lines: after a restart, the first launch's "running" is still in the log.
      const start = this.output.length;
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (!settled && / running\b/.test(this.output.slice(start))) {
          settled = true;
          this.child = child;
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (error) => {
        if (!settled) {
          settled = true;
          reject(error);
        }
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!settled) {
          settled = true;
          reject(new Error(`mosquitto exited (${signal ?? code}) on port ${this.port}:\n${this.output}`));
        }
      });
    });
  }
}

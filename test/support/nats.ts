/**
 * A real nats-server cluster for tests and benches (Debian's nats-server, 2.9.x):
 * N nodes on free loopback ports, joined by routes, each with JetStream (for the
 * key-value bucket of the fleet's leases) in a folder of its own. A node can be
 * killed with SIGKILL and started again on the same ports.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';

const BINARY_CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary; installs the Debian package when it is missing and we are root. */
export function natsServerBinary(): string {
  const find = () => BINARY_CANDIDATES.find((candidate) => {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  let binary = find();
  if (!binary && process.getuid?.() === 0) {
    execFileSync('apt-get', ['install', '-y', '-q', 'nats-server'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    binary = find();
  }
  if (!binary) throw new Error('nats-server is not installed (apt-get install -y nats-server)');
  return binary;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class NatsNode {
  private child: ChildProcess | undefined;
  private output = '';
  constructor(
    readonly name: string,
    readonly port: number,
    readonly clusterPort: number,
    private readonly routes: () => string[],
    private readonly storeDir: string,
    private readonly binary: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const args = [
      '--addr', '127.0.0.1', '--port', String(this.port),
      '--server_name', this.name,
      '--cluster_name', 'pasarela-test',
      '--cluster', `nats://127.0.0.1:${this.clusterPort}`,
      '--routes', this.routes().join(','),
      '--jetstream', '--store_dir', this.storeDir,
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(this.port))) {
      if (!this.running) throw new Error(`nats-server ${this.name} exited: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`nats-server ${this.name} did not listen in time: ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILL: the node vanishes as a crashed machine would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  get log(): string {
    return this.output;
  }
}

export class NatsCluster {
  private constructor(readonly nodes: NatsNode[], private readonly dir: string) {}

  /** Starts `size` nodes (3 by default, so JetStream has a quorum). */
  static async start(size = 3): Promise<NatsCluster> {
    const binary = natsServerBinary();
    const dir = mkdtempSync(join(tmpdir(), 'pasarela-nats-'));
    const ports: Array<[number, number]> = [];
    for (let i = 0; i < size; i++) ports.push([await freePort(), await freePort()]);
    const routes = () => ports.map(([, cluster]) => `nats://127.0.0.1:${cluster}`);
    const nodes = ports.map(([port, cluster], i) => new NatsNode(`n${i + 1}`, port, cluster, routes, join(dir, `n${i + 1}`), binary));
    const cluster = new NatsCluster(nodes, dir);
    try {
      await Promise.all(nodes.map((node) => node.start()));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

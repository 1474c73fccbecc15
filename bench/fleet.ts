/**
 * The fleet over a real 3-node nats-server cluster, against the paths it replaces,
 * measured in the same run:
 * - request latency (p50, p99) from a client on gateway A to a device on gateway B
 *   through the cluster (`["fleet", "b", ...]`), against a direct JSTP forward from A
 *   to B over TCP (`host: [[B, port, "tcp"]]`); target: p50 at most 2x direct + 1 ms;
 * - BIND fan-out: PATCHes B emits, delivered to a fleet-wide BIND of a client on A,
 *   per second, against raw NATS publish/subscribe of the same payloads between the
 *   same two servers; target: at least 0.5x;
 * - time to resume: a NATS node under gateway A killed with SIGKILL, until A's
 *   subscriber gets B's events again;
 * - takeover: gateway P runs a shared device that S has as `standby: true`; P is
 *   killed with SIGKILL, until A's fleet-wide subscriber gets the device's readings
 *   from S (default lease ttl: what a user gets). The peer is the floor a lease of the
 *   same ttl and renewal period allows: a bare nats.js key-value lease, its holder
 *   (a process of its own) killed at the same moment, until a contender creates the
 *   key; target: within 10 s.
 * Gateways run in processes of their own (`--serve NAME SERVERS [preferred|standby]`).
 *
 * Run: npm run bench -- fleet
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect } from '@nats-io/transport-node';
import { connect, type Client } from '../gateway/client.js';
import { parseConfig } from '../gateway/config.js';
import { fleetPlugin } from '../gateway/fleet/plugin.js';
import { startGateway, type GatewayPlugin } from '../gateway/gateway.js';
import { driverPlugin } from '../gateway/plugins/driver-plugin.js';
import { NatsCluster } from '../test/support/nats.js';
import { tickingDriver } from '../test/support/ticking-driver.js';
import { jstpCountingSubscriber } from './support/counting-subscribers.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const FANOUT_MS = Number(process.env.BENCH_ROUND_MS ?? 3_000);
const self = fileURLToPath(import.meta.url);

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
const round2 = (x: number): number => Math.round(x * 100) / 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A device on B: a temperature to read, and PATCHes on demand as fast as asked. */
function benchDevice(): GatewayPlugin {
  return {
    name: 'bench-device',
    async start({ engine }) {
      let value = 20;
      const unbinds = [
        engine.bind({ method: 'GET', resource: ['devices', 'thermo', 'properties', 'temperature'] }, () => value),
        engine.bind({ method: 'POST', resource: ['bench', 'burst'] }, (incoming) => {
          const count = Number(incoming.body);
          for (let i = 0; i < count; i++) engine.emit('PATCH', ['devices', 'thermo', 'properties', 'temperature'], { value: (value += 0.01), at: Date.now() });
          return count;
        }),
      ];
      return () => unbinds.forEach((unbind) => unbind());
    },
  };
}

/** `--serve NAME SERVERS [preferred|standby]`: one gateway of the fleet, in this process; prints its TCP port. */
async function serve(name: string, servers: string[], shared: string | undefined): Promise<void> {
  const devices = shared ? [{ id: 'shared', driver: 'ticking', standby: shared === 'standby' }] : [];
  const config = parseConfig(
    { listen: { tcp: 0, http: 0 }, log: { level: 'silent' }, jstp: { forwarding: { enabled: true } }, fleet: { name, nats: { servers }, heartbeatMs: 500 }, devices },
    'bench',
  );
  const gateway = await startGateway(config, { plugins: [fleetPlugin(config.fleet!), benchDevice(), ...(shared ? [driverPlugin(tickingDriver({ name: 'ticking', property: 'reading', everyMs: 20 }))] : [])] });
  process.stdout.write(`${JSON.stringify({ tcp: gateway.ports.tcp })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void gateway.close().finally(() => process.exit(0)));
}

async function startChild(name: string, servers: string[], shared?: 'preferred' | 'standby'): Promise<{ process: ChildProcess; tcp: number }> {
  const child = spawn(process.execPath, [...process.execArgv, self, '--serve', name, servers.join(','), ...(shared ? [shared] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const tcp = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { tcp: number }).tcp));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return { process: child, tcp };
}

async function latencies(ask: () => PromiseLike<unknown>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await ask();
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    await ask();
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b);
}

/**
 * PATCHes from B counted as they reach a subscriber on A that BINDs for real and then
 * only counts lines (bench/support/counting-subscribers.ts): the figure is the
 * fleet's, as the raw NATS subscriber's is the cluster's.
 */
async function fanOut(port: number, emitter: Client): Promise<number> {
  const counter = await jstpCountingSubscriber('127.0.0.1', port, { method: 'PATCH', resource: ['fleet', 'b', 'devices', '*', 'properties', 'temperature'] }, 10_000);
  // Wait until the BIND's subjects reach B's server.
  for (let tries = 0; counter.count === 0 && tries < 100; tries++) {
    await emitter.post(['bench', 'burst'], 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const start = performance.now();
  const base = counter.count;
  let sent = 0;
  while (performance.now() - start < FANOUT_MS) {
    // Bursts that keep no more than a bounded number in flight. The wait sleeps rather
    // than spins: on two cores a spinning bench takes CPU from the gateways it measures.
    if (sent - (counter.count - base) < 5_000) {
      await emitter.post(['bench', 'burst'], 1_000);
      sent += 1_000;
    } else {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  const rate = (counter.count - base) / ((performance.now() - start) / 1000);
  await counter.close();
  return rate;
}

async function rawNats(servers: [string, string], payload: string): Promise<number> {
  const [publisher, subscriber] = await Promise.all([natsConnect({ servers: servers[1] }), natsConnect({ servers: servers[0] })]);
  let delivered = 0;
  subscriber.subscribe('bench.raw.>', { callback: () => void delivered++ });
  await subscriber.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < FANOUT_MS) {
    if (sent - delivered < 5_000) {
      for (let i = 0; i < 1_000; i++) publisher.publish('bench.raw.devices.thermo.properties.temperature', payload);
      sent += 1_000;
      await publisher.flush();
    } else {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  const rate = delivered / ((performance.now() - start) / 1000);
  await Promise.all([publisher.close(), subscriber.close()]);
  return rate;
}

async function main(): Promise<void> {
  const cluster = await NatsCluster.start(3);
  const [n1, n2, n3] = cluster.urls as [string, string, string];
  const children: ChildProcess[] = [];
  try {
    const a = await startChild('a', [n1, n2, n3]);
    const b = await startChild('b', [n2, n3, n1]);
    children.push(a.process, b.process);
    const client = connect(`tcp://127.0.0.1:${a.tcp}`, { reconnect: false });
    const emitter = connect(`tcp://127.0.0.1:${b.tcp}`, { reconnect: false });
    await Promise.all([client.ready(), emitter.ready()]);
    // B is known to A once its heartbeat came.
    for (let i = 0; i < 100; i++) {
      const answers = await client.get(['fleet', 'b', 'devices', 'thermo', 'properties', 'temperature']).all();
      if (answers.some((answer) => answer.status === 200)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const viaFleet = await latencies(() => client.get(['fleet', 'b', 'devices', 'thermo', 'properties', 'temperature']));
    const direct = await latencies(() => client.get(['devices', 'thermo', 'properties', 'temperature'], undefined, { host: [['127.0.0.1', b.tcp, 'tcp']] }));
    for (const p of [50, 99]) {
      const ours = percentile(viaFleet, p);
      const theirs = percentile(direct, p);
      print({ bench: 'fleet', case: `request A -> device on B, p${p}`, unit: 'ms', ours: round2(ours), peer: 'direct JSTP forward over TCP', theirs: round2(theirs), ratio: round2(ours / theirs), target: p === 50 ? `<= ${round2(2 * theirs + 1)}` : undefined });
    }

    const sample = JSON.stringify({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'PATCH', resource: ['devices', 'thermo', 'properties', 'temperature'], timestamp: Date.now(), body: { value: 20.01, at: Date.now() }, token: [] });
    const fleetRate = await fanOut(a.tcp, emitter);
    const rawRate = await rawNats([n1, n2], sample);
    print({ bench: 'fleet', case: 'BIND fan-out B -> subscriber on A', unit: 'delivered/s', ours: Math.round(fleetRate), peer: 'raw NATS pub/sub, same payload', theirs: Math.round(rawRate), ratio: round2(fleetRate / rawRate) });

    // Resume: A's NATS node goes; A's subscriber waits for B's events again. The peer: a
    // plain nats.js subscriber (default options) on the same node, through the same kill.
    const server = ((await client.get(['fleet'])).body as { nats: { server?: string } }).nats.server ?? '';
    const victim = cluster.nodes.find((node) => server.endsWith(`:${node.port}`)) ?? cluster.nodes[0]!;
    const others = cluster.nodes.filter((node) => node !== victim).map((node) => node.url);
    const raw = await natsConnect({ servers: [victim.url, ...others], noRandomize: true });
    // Each side: when it heard B, from the kill on; the resume is its longest pause.
    let killedAt = Number.POSITIVE_INFINITY;
    const ours = { heard: false, after: [] as number[] };
    const theirs = { heard: false, after: [] as number[] };
    const heard = (side: { heard: boolean; after: number[] }) => {
      side.heard = true;
      const now = performance.now();
      if (now > killedAt) side.after.push(now);
    };
    raw.subscribe('pasarela.ev.b.PATCH.>', { callback: () => heard(theirs) });
    const unbind = client.bind({ method: 'PATCH', resource: ['fleet', 'b', 'devices', '*', 'properties', 'temperature'] }, () => heard(ours));
    const ticker = setInterval(() => void emitter.post(['bench', 'burst'], 1).catch(() => undefined), TICK_MS);
    while (!ours.heard || !theirs.heard) await new Promise((resolve) => setTimeout(resolve, 20));
    killedAt = performance.now();
    await victim.kill();
    // Long enough for the default client's 2 s reconnect wait and then some.
    await new Promise((resolve) => setTimeout(resolve, RESUME_WATCH_MS));
    const watchedUntil = performance.now();
    const resumeMs = longestPause(ours.after, killedAt, watchedUntil);
    const rawResumeMs = longestPause(theirs.after, killedAt, watchedUntil);
    clearInterval(ticker);
    unbind();
    await raw.close();
    print({ bench: 'fleet', case: 'resume after the NATS node under A is killed: longest pause (target <= 2000 ms)', unit: 'ms', ours: Math.round(resumeMs), peer: 'nats.js subscriber with default options, same kill', theirs: Math.round(rawResumeMs), ratio: round2(resumeMs / rawResumeMs) });

    await victim.start();
    const takeover = await takeoverTimes(cluster.urls, client, children);
    print({ bench: 'fleet', case: 'takeover of a standby device after its gateway is killed (target <= 10000 ms)', unit: 'ms', ours: Math.round(takeover.ours), peer: 'bare nats.js KV lease, same ttl and renewal period, holder killed', theirs: Math.round(takeover.theirs), ratio: round2(takeover.ours / takeover.theirs) });

    await Promise.all([client.close(), emitter.close()]);
  } finally {
    for (const child of children) {
      child.stdin?.end();
      child.kill('SIGTERM');
    }
    await cluster.stop();
  }
}

/** Events every TICK_MS while a kill is measured. */
const TICK_MS = 20;
const RESUME_WATCH_MS = 8_000;

/**
 * How long the stream stopped: the longest pause between arrivals from the kill on
 * (what was on its way at the kill still arrives, so the first arrival after it says
 * nothing). NaN when it had not come back by the end of the watch.
 */
function longestPause(arrivals: readonly number[], killedAt: number, watchedUntil: number): number {
  let previous = killedAt;
  let longest = 0;
  for (const at of arrivals) {
    longest = Math.max(longest, at - previous);
    previous = at;
  }
  return watchedUntil - previous > 10 * TICK_MS ? Number.NaN : longest;
}

/** The lease ttl a gateway has by default, and its renewal period (gateway/fleet/lease.ts). */
const LEASE_TTL_MS = 6_000;
const LEASE_PERIOD_MS = LEASE_TTL_MS / 3;
const RAW_BUCKET = 'bench-raw-lease';

/** `--raw-holder SERVERS`: holds the bare lease (create, then renew every period); prints once it holds it. */
async function rawHolder(servers: string[]): Promise<void> {
  const connection = await natsConnect({ servers });
  const kv = await new Kvm(connection).create(RAW_BUCKET, { ttl: LEASE_TTL_MS, history: 1 });
  let revision = await kv.create('lease', 'holder');
  process.stdout.write('holding\n');
  setInterval(() => void kv.update('lease', 'holder', revision).then((next) => (revision = next)), LEASE_PERIOD_MS);
}

/**
 * Kills P (the gateway running the shared device) and the bare lease's holder at
 * once; ours ends at the first reading from S at A's subscriber, theirs when the
 * contender's create succeeds (it tries every renewal period, as a standby does).
 */
async function takeoverTimes(servers: string[], client: Client, children: ChildProcess[]): Promise<{ ours: number; theirs: number }> {
  const preferred = await startChild('p', servers, 'preferred');
  const standby = await startChild('s', servers, 'standby');
  children.push(preferred.process, standby.process);
  const holder = spawn(process.execPath, [...process.execArgv, self, '--raw-holder', servers.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(holder);
  await new Promise<void>((resolve) => createInterface({ input: holder.stdout! }).once('line', () => resolve()));
  const from = new Map<string, number>();
  let killedAt = Number.POSITIVE_INFINITY;
  const unbind = client.bind({ method: 'PATCH', resource: ['fleet', '*', 'devices', 'shared', 'properties', 'reading'] }, (incoming) => {
    const gateway = String(incoming.resource[1]);
    if (!from.has(gateway) && (gateway === 'p' || performance.now() > killedAt)) from.set(gateway, performance.now());
  });
  // P runs the device, and S has waited out its first ttl.
  while (!from.has('p')) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS * 1.5));
  const contender = await natsConnect({ servers });
  const kv = await new Kvm(contender).open(RAW_BUCKET);
  killedAt = performance.now();
  preferred.process.kill('SIGKILL');
  holder.kill('SIGKILL');
  let theirs = 0;
  while (theirs === 0) {
    try {
      await kv.create('lease', 'contender');
      theirs = performance.now() - killedAt;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, LEASE_PERIOD_MS));
    }
  }
  const deadline = killedAt + 30_000;
  while (!from.has('s') && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  unbind();
  await contender.close();
  return { ours: (from.get('s') ?? Number.NaN) - killedAt, theirs };
}

const serveAt = process.argv.indexOf('--serve');
const holderAt = process.argv.indexOf('--raw-holder');
if (serveAt !== -1) await serve(process.argv[serveAt + 1] ?? 'x', (process.argv[serveAt + 2] ?? '').split(','), process.argv[serveAt + 3]);
else if (holderAt !== -1) await rawHolder((process.argv[holderAt + 1] ?? '').split(','));
else await main();

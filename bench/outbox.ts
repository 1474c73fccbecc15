/**
 * The uplinks' durable outbox (gateway/uplinks/outbox.ts), measured in one run:
 *
 * - accepted/s: dispatches appended to a SQLite queue until every commit returned,
 *   with group commit (at most 100 per transaction), against the naive way (one
 *   transaction per dispatch, the same WAL + synchronous=FULL), and against an
 *   in-memory queue (the ceiling);
 * - replay/s: a backlog kept while the far end was away, sent on reconnect to a real
 *   Pasarela gateway over TCP until its receipts acknowledged all of it, from SQLite
 *   and (the ceiling) from memory;
 * - added latency p99 with the link up: emit -> the far end's subscriber, through the
 *   SQLite queue against the same uplink with an in-memory queue, alternating rounds.
 *
 * Targets on this kind of machine: >= 20,000 accepted/s, >= 10,000 replayed/s,
 * <= 2 ms added at p99. One JSON line per case, e.g.
 * {"bench":"outbox","case":"accepted","unit":"dispatches/s","ours":25000,"peer":"one transaction per dispatch","theirs":5000,"ratio":5,"target":">= 20000","met":true}
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../gateway/config.js';
import { startGateway, type Gateway } from '../gateway/gateway.js';
import { Engine } from '../gateway/jstp/engine.js';
import { silentLogger } from '../gateway/jstp/logger.js';
import { dedupPlugin } from '../gateway/uplinks/dedup.js';
import { BUILT_IN_DIALERS } from '../gateway/uplinks/dialers.js';
import { memoryQueue } from '../gateway/uplinks/memory-queue.js';
import { Outbox } from '../gateway/uplinks/outbox.js';
import type { OutboxQueue, QueueBounds } from '../gateway/uplinks/queue.js';
import { parseForwardPattern, type ForwardPattern } from '../gateway/uplinks/uplink-config.js';
import { Uplink } from '../gateway/uplinks/uplink.js';

const ACCEPT_COUNT = Number(process.env.BENCH_ACCEPT ?? 30_000);
const NAIVE_COUNT = Number(process.env.BENCH_NAIVE ?? 3_000);
const REPLAY_COUNT = Number(process.env.BENCH_REPLAY ?? 30_000);
const LATENCY_RATE = Number(process.env.BENCH_RATE ?? 1_000);
const LATENCY_ROUND = Number(process.env.BENCH_ROUND ?? 1_000);
const LATENCY_ROUNDS = 6;
/** Appends waiting for their commit at once (a busy gateway's drivers). */
const IN_FLIGHT = 2_000;

const bounds: QueueBounds = { maxBytes: 1e10, maxAgeMs: 1e10, whenFull: 'drop-oldest' };
const forward = [parseForwardPattern('PATCH devices/...') as ForwardPattern];

function telemetry(n: number): string {
  return JSON.stringify({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'PATCH', resource: ['devices', 'kitchen', 'properties', 'temperature'], timestamp: Date.now(), body: { value: 20 + (n % 100) / 10, at: Date.now() } });
}

function line(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'outbox', ...fields })}\n`);
}

function rounded(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Appends `count` dispatches, at most IN_FLIGHT waiting; resolves with dispatches per second. */
async function acceptRate(queue: OutboxQueue, count: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const more = (): void => {
      while (next < count && next - done < IN_FLIGHT) {
        queue.append(telemetry(next++)).then(() => {
          if (++done === count) resolve();
          else more();
        }, reject);
      }
    };
    more();
  });
  return (count * 1000) / (performance.now() - start);
}

async function farEnd(port = 0, onArrival?: (body: { sentAt?: number }) => void): Promise<Gateway> {
  const config = parseConfig({ listen: { host: '127.0.0.1', tcp: port, http: 0 }, log: { level: 'silent' } }, 'bench');
  const gateway = await startGateway(config, { plugins: [dedupPlugin()] });
  if (onArrival) gateway.engine.bind({ method: 'PATCH', resource: ['devices', '...'] }, (incoming) => void onArrival(incoming.body as { sentAt?: number }));
  return gateway;
}

/** An uplink on a bare engine, toward `port`, over `queue`. */
function uplinkTo(port: number, queue: OutboxQueue, engine: Engine): Uplink {
  return new Uplink({
    name: 'bench',
    url: new URL(`tcp://127.0.0.1:${port}`),
    forward,
    serve: false,
    sender: `bench-${queue.name}`,
    connectTimeoutMs: 2_000,
    reconnect: { initialMs: 10, maxMs: 50 },
    engine,
    queue,
    dialer: BUILT_IN_DIALERS.tcp!,
    store: queue.name,
    maxBytes: bounds.maxBytes,
    logger: silentLogger(),
  });
}

async function freePort(): Promise<number> {
  const probe = await farEnd();
  const port = probe.ports.tcp;
  await probe.close();
  return port;
}

/** Fills `queue` with the far end away, then lets it come: dispatches per second until all were acknowledged. */
async function replayRate(queue: OutboxQueue, count: number): Promise<number> {
  const port = await freePort();
  const engine = new Engine({ logger: silentLogger() });
  const uplink = uplinkTo(port, queue, engine);
  uplink.start();
  await acceptRate(queue, count);
  const far = await farEnd(port);
  const start = performance.now();
  while (queue.stats().queued > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  const rate = (count * 1000) / (performance.now() - start);
  await uplink.stop();
  await far.close();
  engine.close();
  return rate;
}

/** Emit -> far-end subscriber latencies (ms) of one round at LATENCY_RATE. */
async function latencyRound(engine: Engine, arrivals: Map<number, number>, first: number): Promise<number[]> {
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(LATENCY_ROUND, Math.floor(((performance.now() - start) * LATENCY_RATE) / 1000) + 1);
      while (next < due) {
        engine.emit('PATCH', ['devices', 'bench', 'properties', 'temperature'], { seq: first + next, sentAt: performance.now() });
        next++;
      }
      if (next < LATENCY_ROUND) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const deadline = performance.now() + 10_000;
  while (arrivals.size < LATENCY_ROUND && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const latencies = [...arrivals.values()];
  arrivals.clear();
  return latencies;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pasarela-bench-outbox-'));
  const opened: Outbox[] = [];
  const open = async (name: string, maxBatch?: number): Promise<OutboxQueue> => {
    const outbox = await Outbox.open({ path: join(dir, `${name}.sqlite`), ...(maxBatch ? { maxBatch } : {}) });
    opened.push(outbox);
    return outbox.queue(name, bounds);
  };
  try {
    // ---- accepted/s ----
    await acceptRate(await open('warmup'), 2_000);
    const grouped = await acceptRate(await open('grouped'), ACCEPT_COUNT);
    const naive = await acceptRate(await open('naive', 1), NAIVE_COUNT);
    const memory = await acceptRate(memoryQueue('memory', bounds), ACCEPT_COUNT);
    line({ case: 'accepted', unit: 'dispatches/s', ours: rounded(grouped), peer: 'one transaction per dispatch (same WAL + FULL)', theirs: rounded(naive), ratio: rounded(grouped / naive, 2), target: '>= 20000', met: grouped >= 20_000 });
    line({ case: 'accepted vs memory', unit: 'dispatches/s', ours: rounded(grouped), peer: 'in-memory queue (the ceiling)', theirs: rounded(memory), ratio: rounded(grouped / memory, 3) });

    // ---- replay/s ----
    const replayed = await replayRate(await open('replay'), REPLAY_COUNT);
    const replayedFromMemory = await replayRate(memoryQueue('replay-memory', bounds), REPLAY_COUNT);
    line({ case: 'replay', unit: 'dispatches/s', ours: rounded(replayed), peer: 'the same replay from an in-memory queue', theirs: rounded(replayedFromMemory), ratio: rounded(replayed / replayedFromMemory, 2), target: '>= 10000', met: replayed >= 10_000 });

    // ---- added latency with the link up ----
    const arrivals = new Map<number, number>();
    const far = await farEnd(0, (body) => {
      const { seq, sentAt } = body as { seq: number; sentAt: number };
      arrivals.set(seq, performance.now() - sentAt);
    });
    const contenders = await Promise.all(
      [await open('latency'), memoryQueue('latency-memory', bounds)].map(async (queue) => {
        const engine = new Engine({ logger: silentLogger() });
        const uplink = uplinkTo(far.ports.tcp, queue, engine);
        uplink.start();
        while (!uplink.status().connected) await new Promise((resolve) => setTimeout(resolve, 5));
        return { engine, uplink, samples: [] as number[] };
      }),
    );
    let seq = 0;
    // Warm up both, then alternate, so load from elsewhere falls on both alike.
    for (const contender of contenders) {
      await latencyRound(contender.engine, arrivals, seq);
      seq += LATENCY_ROUND;
    }
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      for (const contender of contenders) {
        contender.samples.push(...(await latencyRound(contender.engine, arrivals, seq)));
        seq += LATENCY_ROUND;
      }
    }
    const [sqlite, inMemory] = contenders.map((contender) => contender.samples.sort((a, b) => a - b)) as [number[], number[]];
    for (const p of [50, 99]) {
      line({ case: `latency p${p}`, unit: 'ms', ours: rounded(percentile(sqlite, p), 2), peer: 'the same uplink over an in-memory queue', theirs: rounded(percentile(inMemory, p), 2), ratio: rounded(percentile(sqlite, p) / percentile(inMemory, p), 2) });
    }
    const added = percentile(sqlite, 99) - percentile(inMemory, 99);
    line({ case: 'added latency p99', unit: 'ms', ours: rounded(added, 2), samples: sqlite.length, rate: LATENCY_RATE, target: '<= 2', met: added <= 2 });
    for (const contender of contenders) {
      await contender.uplink.stop();
      contender.engine.close();
    }
    await far.close();
  } finally {
    await Promise.all(opened.map((outbox) => outbox.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

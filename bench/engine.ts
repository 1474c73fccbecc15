/**
 * Local dispatch -> handler throughput of our engine against node-jstp, in one process.
 *
 * Each case binds N PATCH subscriptions on ["devices", "dev<i>", "properties",
 * "temperature"] (the same patterns for both engines) and fires fire-and-forget
 * PATCH dispatches at the resource of exactly one of them. A case runs two rounds
 * per engine, alternating, and keeps each engine's best round. Each size runs twice:
 * with no pipeline stage, and with one pass-through stage (`vsNoStage` is its share
 * of the no-stage figure; the target is at least 0.9). Then it measures heap
 * bytes per subscription in the 10000 case (needs --expose-gc; bench/run.ts passes it).
 *
 * Then the worst cases of matching, with patterns and resources as long as the default
 * limits allow (32 elements): `...` patterns that every index lets through and that
 * fail only after a search of the whole resource, 1, 1,000 (one connection's limit)
 * and 10,000 (the gateway's) of them. It prints the longest single dispatch in ms
 * against the target of 10 ms (`peer` is the target there), after a forced
 * collection so no earlier case's garbage is paid for, with the median and the CPU
 * time per dispatch, which a busy machine inflates less.
 *
 * Prints one JSON line per case, e.g.
 * {"bench":"engine","case":"1000 subscriptions","unit":"dispatch/s","ours":N,"peer":"node-jstp","theirs":M,"ratio":N/M}
 */
import { performance } from 'node:perf_hooks';
import { Engine, type Stage } from '../gateway/jstp/engine.js';
import { defaultLimits } from '../gateway/limits/schema.js';
import { freshNodeJstp, quietly, type NodeJstpCallback } from './support/node-jstp.js';

const SIZES = [1, 1_000, 10_000];
const HEAP_SIZE = 10_000;
const ROUNDS = 2;
/** Per engine per round; with warm-up and binding the whole bench stays well under 60 s. */
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 500);
const WARMUP_MS = 200;
const DRAIN_LIMIT_MS = 10_000;
const PEER = 'node-jstp';

const body = { value: 21.5, at: 0 };

function pattern(i: number): string[] {
  return ['devices', `dev${i}`, 'properties', 'temperature'];
}

/** One engine set up for a case: `fire` sends one dispatch, `handled` counts handler calls. */
interface Contender {
  fire(): void;
  handled(): number;
  close(): void;
}

const passThrough: Stage = { name: 'pass-through', inbound: (dispatch) => dispatch, outbound: (dispatch) => dispatch };

function ours(size: number, stage: boolean): Contender {
  const engine = new Engine({ mode: 'strict', answerTimeoutMs: 10_000 });
  if (stage) engine.use(passThrough);
  let count = 0;
  const handler = (): void => {
    count++;
  };
  for (let i = 0; i < size; i++) engine.bind({ method: 'PATCH', resource: pattern(i) }, handler);
  const resource = pattern(size - 1);
  return {
    fire: () => engine.emit('PATCH', resource, body),
    handled: () => count,
    close: () => engine.close(),
  };
}

function theirs(size: number): Contender {
  const jstp = freshNodeJstp();
  let count = 0;
  const callback: NodeJstpCallback = () => {
    count++;
  };
  for (let i = 0; i < size; i++) jstp.bind({ endpoint: { method: 'PATCH', resource: pattern(i) } }, callback);
  const resource = pattern(size - 1);
  return {
    fire: () => void jstp.dispatch({ method: 'PATCH', resource, body }),
    handled: () => count,
    close: () => void freshNodeJstp(),
  };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits for handlers that run later (node-jstp calls them on process.nextTick). */
async function drain(contender: Contender, target: number): Promise<void> {
  const deadline = performance.now() + DRAIN_LIMIT_MS;
  while (contender.handled() < target) {
    if (performance.now() > deadline) throw new Error(`handlers ran ${contender.handled()} times, expected ${target}`);
    await nextTurn();
  }
}

/** Dispatches in growing batches for `ms`; returns handled dispatches per second. */
async function rate(contender: Contender, ms: number): Promise<number> {
  const base = contender.handled();
  let batch = 1;
  let fired = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    const batchStart = now;
    for (let i = 0; i < batch; i++) contender.fire();
    fired += batch;
    await drain(contender, base + fired);
    now = performance.now();
    // Batches of ~2 ms keep the drain's turn of the event loop out of the figure.
    if (now - batchStart < 2) batch *= 2;
  }
  // Exactly one subscription matches: anything else means the bench measures the wrong thing.
  if (contender.handled() - base !== fired) throw new Error(`${fired} dispatches ran ${contender.handled() - base} handlers`);
  return fired / ((now - start) / 1000);
}

function collect(): void {
  globalThis.gc?.();
  globalThis.gc?.();
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Builds a contender and reports the heap it retains (patterns are made inside the build). */
function withHeap(build: () => Contender): { contender: Contender; bytes: number | undefined } {
  if (typeof globalThis.gc !== 'function') return { contender: build(), bytes: undefined };
  collect();
  const before = process.memoryUsage().heapUsed;
  const contender = build();
  collect();
  return { contender, bytes: process.memoryUsage().heapUsed - before };
}

/** No-stage figures by size, for the stage case's share. */
const noStage = new Map<number, number>();

async function runCase(size: number, stage: boolean): Promise<void> {
  // Binding 10000 in node-jstp takes ~15 s (each bind scans every subscription for a
  // duplicate), so the heap is measured on the same setup as the throughput.
  const measureHeap = size === HEAP_SIZE && !stage;
  const { contender: mine, bytes: oursBytes } = measureHeap ? withHeap(() => ours(size, stage)) : { contender: ours(size, stage), bytes: undefined };
  const { contender: peer, bytes: theirsBytes } = await quietly(() =>
    measureHeap ? withHeap(() => theirs(size)) : { contender: theirs(size), bytes: undefined },
  );
  let oursBest = 0;
  let theirsBest = 0;
  await rate(mine, WARMUP_MS);
  await quietly(() => rate(peer, WARMUP_MS));
  for (let round = 0; round < ROUNDS; round++) {
    collect();
    oursBest = Math.max(oursBest, await rate(mine, ROUND_MS));
    collect();
    theirsBest = Math.max(theirsBest, await quietly(() => rate(peer, ROUND_MS)));
  }
  mine.close();
  peer.close();
  if (!stage) noStage.set(size, oursBest);
  const baseline = noStage.get(size);
  print({
    bench: 'engine',
    case: `${size} subscription${size === 1 ? '' : 's'}${stage ? ', 1 pass-through stage' : ''}`,
    unit: 'dispatch/s',
    ours: Math.round(oursBest),
    peer: PEER,
    theirs: Math.round(theirsBest),
    ratio: round2(oursBest / theirsBest),
    ...(stage && baseline ? { vsNoStage: round2(oursBest / baseline) } : {}),
  });
  if (!measureHeap) return;
  if (oursBytes === undefined || theirsBytes === undefined) {
    process.stderr.write('engine bench: run with --expose-gc (npm run bench -- engine) to measure heap per subscription\n');
    return;
  }
  print({
    bench: 'engine',
    case: `heap per subscription (${size} bound)`,
    unit: 'bytes',
    ours: Math.round(oursBytes / size),
    peer: PEER,
    theirs: Math.round(theirsBytes / size),
    ratio: round2(oursBytes / theirsBytes),
  });
}

/** The target for the longest single task (issue "A gateway that hostile peers cannot break"). */
const LONGEST_TASK_TARGET_MS = 10;
const WORST_ELEMENTS = defaultLimits().maxResourceElements;
const WORST_WARMUP = 30;
const WORST_DISPATCHES = 200;

/**
 * Patterns of the maximum length that no index or quick check can dismiss: after
 * `...`, a literal the resource holds, a run of `a` and `*` (distinct per pattern, so
 * nothing is shared), then `b a`, which the resource (16 a, then 16 b) never has in a
 * row: every one is searched through the whole resource, and fails.
 */
function worstPattern(i: number): string[] {
  const run = WORST_ELEMENTS - 6;
  const variant = i.toString(2).padStart(run, '0').slice(-run);
  return ['...', 'a', ...[...variant].map((bit) => (bit === '1' ? 'a' : '*')), 'b', 'a', '...', ':x'];
}

function worstCase(count: number): void {
  const engine = new Engine({ mode: 'strict', answerTimeoutMs: 10_000 });
  let matched = 0;
  for (let i = 0; i < count; i++) {
    engine.bind({ method: 'PATCH', resource: worstPattern(i) }, () => {
      matched++;
    });
  }
  const half = WORST_ELEMENTS / 2;
  const resource = [...Array.from({ length: half }, () => 'a'), ...Array.from({ length: WORST_ELEMENTS - half }, () => 'b')];
  for (let i = 0; i < WORST_WARMUP; i++) engine.emit('PATCH', resource, body);
  // A collection now, so that what the earlier cases left behind is not paid for here.
  collect();
  const tasks: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < WORST_DISPATCHES; i++) {
    const before = performance.now();
    engine.emit('PATCH', resource, body);
    tasks.push(performance.now() - before);
  }
  const used = process.cpuUsage(cpu);
  tasks.sort((a, b) => a - b);
  const longest = tasks.at(-1)!;
  engine.close();
  if (matched !== 0) throw new Error(`the worst-case patterns matched ${matched} times`);
  print({
    bench: 'engine',
    case: `longest task: ${count} worst-case pattern${count === 1 ? '' : 's'} of ${WORST_ELEMENTS} elements with ... against a ${WORST_ELEMENTS}-element resource`,
    unit: 'ms',
    ours: round2(longest),
    peer: 'target',
    theirs: LONGEST_TASK_TARGET_MS,
    ratio: round2(longest / LONGEST_TASK_TARGET_MS),
    medianMs: round2(tasks[tasks.length >> 1]!),
    cpuMsPerDispatch: round2((used.user + used.system) / 1000 / WORST_DISPATCHES),
  });
}

for (const size of SIZES) {
  await runCase(size, false);
  await runCase(size, true);
}
for (const count of [1, 1_000, 10_000]) worstCase(count);

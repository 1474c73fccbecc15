/**
 * Balancing across instances, measured in one run: two instances of a replicated
 * service (bench/support/work-service.ts, 3 ms of CPU per request), one of them
 * slowed by a CPU-burning neighbour on its CPU (taskset: the slowed instance and two
 * busy processes share CPU 0, the other instance has CPU 1), and a client sending at
 * a fixed rate for 20 s with each policy in turn:
 *
 *   weighted     connect({ urls }): this balancer (reports, A58 weights, two choices)
 *   round-robin  connect({ urls, policy: 'round-robin' }): in turn, reports unread
 *   single       connect(url) to the slowed instance alone
 *
 * The neighbour starts 5 s in; shares and latencies are over the 15 s after that.
 * Printed (one JSON line per case): the cooler instance's share (target >= 70%), p50
 * and p99 latency per policy (target: the balancer's p99 at most half of round
 * robin's), the time from the slowdown to the shift (target <= one report period +
 * 1 s), the share a joining third instance gets in its first second (target <= 10%
 * of its fair share; the three count their own event loops alone, see joinerRun),
 * and the CPU the reporting costs an idle instance at a 1 s period (target <= 1% of a core).
 *
 *   npm run bench -- balance        (BENCH_RATE=200 BENCH_SECONDS=20 BENCH_CPU_MS=3 to change the load)
 *
 * The CPU part of a report is the busy fraction of the CPUs an instance may run on: on
 * a machine where other work keeps every CPU busy, both instances read 100%, and
 * BENCH_COUNT=eventLoop (each process's own event loop) is the signal left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type BalancedClient, type Client } from '../gateway/client.js';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const RUN_S = Number(process.env.BENCH_SECONDS ?? 20);
const SLOW_AT_MS = 5_000;
const PERIOD_S = 1;
/** CPU per request: enough that an instance sharing its CPU with two busy neighbours cannot keep up with half the load. */
const CPU_MS = Number(process.env.BENCH_CPU_MS ?? 3);
const BLACKOUT_MS = 2_000;
const SERVICE = fileURLToPath(new URL('./support/work-service.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PINNED = os.availableParallelism() >= 2;
/** The resources the level and the weights count: a machine shared with other work may want `eventLoop` alone. */
const COUNTED = (process.env.BENCH_COUNT ?? 'cpu,eventLoop').split(',');

interface Sample {
  /** When it was sent, ms after the run started. */
  at: number;
  latencyMs: number;
  servedBy: string;
}

interface Service {
  child: ChildProcess;
  url: string;
  name: string;
}

let folder = '';
const children = new Set<ChildProcess>();

function line(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: 'balance', ...fields }));
}

function rounded(value: number, digits = 2): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `argv` pinned to `cpu` when the machine has two CPUs or more. */
function pinned(cpu: number | undefined, argv: string[]): ChildProcess {
  const [command, ...args] = PINNED && cpu !== undefined ? ['taskset', '-c', String(cpu), ...argv] : argv;
  const child = spawn(command!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** The thresholds that leave every resource but `counted` out of the level. */
function countingOnly(counted: readonly string[]): Record<string, false> {
  return Object.fromEntries(['cpu', 'eventLoop', 'memory', 'disk', 'network'].filter((resource) => !counted.includes(resource)).map((resource) => [resource, false]));
}

async function service(name: string, cpu: number | undefined, extra: { join?: string[]; saturation?: Record<string, unknown> } = {}): Promise<Service> {
  const file = join(folder, `${name}-${Date.now()}.json`);
  const thresholds = countingOnly(COUNTED);
  await writeFile(
    file,
    JSON.stringify({
      listen: { tcp: 0, http: 0 },
      saturation: { periodS: PERIOD_S, sustain: 2, windowS: 1, thresholds, ...extra.saturation },
      // No draining: nothing is refused, so round robin is measured as it is.
      cluster: { name: 'bench', member: name, join: extra.join ?? [], replicated: [], drain: false },
    }),
  );
  const child = pinned(cpu, [process.execPath, '--import', 'tsx', SERVICE, file]);
  const ready = await new Promise<{ tcp: number }>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = text.split('\n').find((candidate) => candidate.includes('"ready"'));
      if (found) resolve(JSON.parse(found) as { tcp: number });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
  return { child, url: `tcp://127.0.0.1:${ready.tcp}`, name };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

type Sender = { get(resource: (string | number)[], body?: unknown): PromiseLike<{ body: unknown }> };

/** Sends at RATE for `seconds`; `at(ms)` hooks run once when their time comes. */
async function fixedRate(client: Sender, seconds: number, hooks: [number, () => void][] = []): Promise<Sample[]> {
  const samples: Sample[] = [];
  const total = Math.round(seconds * RATE);
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let next = 0;
  const due = [...hooks].sort((a, b) => a[0] - b[0]);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now() - start;
      while (due.length > 0 && due[0]![0] <= now) due.shift()![1]();
      const upTo = Math.min(total, Math.floor((now * RATE) / 1000) + 1);
      while (next < upTo) {
        const sentAt = performance.now();
        const at = sentAt - start;
        pending.push(
          Promise.resolve(client.get(['work'], { cpuMs: CPU_MS })).then(
            (answer) => void samples.push({ at, latencyMs: performance.now() - sentAt, servedBy: (answer.body as { servedBy: string }).servedBy }),
            () => void samples.push({ at, latencyMs: performance.now() - sentAt, servedBy: 'error' }),
          ),
        );
        next++;
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  return samples.sort((a, b) => a.at - b.at);
}

function share(samples: readonly Sample[], name: string): number {
  return samples.length === 0 ? NaN : samples.filter((sample) => sample.servedBy === name).length / samples.length;
}

/** From the slowdown to the first second in which the cooler instance got at least 70% of the requests. */
function shiftMs(samples: readonly Sample[], cooler: string): number {
  const after = samples.filter((sample) => sample.at >= SLOW_AT_MS);
  for (const sample of after) {
    const window = after.filter((other) => other.at >= sample.at && other.at < sample.at + 1_000);
    if (window.length >= RATE / 2 && share(window, cooler) >= 0.7) return sample.at - SLOW_AT_MS;
  }
  return NaN;
}

async function waitMembers(client: BalancedClient, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (client.members().filter((member) => (member.state === 'ready' || member.state === 'draining') && member.utilization !== undefined).length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} members ready`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface PolicyResult {
  policy: string;
  cooler: number;
  p50: number;
  p99: number;
  shift: number;
  errors: number;
}

async function policyRun(policy: 'weighted' | 'round-robin' | 'single'): Promise<PolicyResult> {
  const slowed = await service('slowed', 0);
  const cool = await service('cool', 1);
  let client: BalancedClient | Client;
  if (policy === 'single') {
    client = connect(slowed.url);
    await client.ready();
  } else {
    const balanced = connect({ urls: [slowed.url, cool.url], policy });
    await balanced.ready();
    await waitMembers(balanced, 2);
    client = balanced;
  }
  await fixedRate(client, 1);
  const burners: ChildProcess[] = [];
  const samples = await fixedRate(client, RUN_S, [
    [SLOW_AT_MS, () => {
      for (let i = 0; i < 2; i++) burners.push(pinned(0, [process.execPath, '-e', 'for (;;) {}']));
    }],
  ]);
  await Promise.all(burners.map(stop));
  await client.close();
  await Promise.all([stop(slowed.child), stop(cool.child)]);
  const after = samples.filter((sample) => sample.at >= SLOW_AT_MS);
  const latencies = after.map((sample) => sample.latencyMs).sort((a, b) => a - b);
  return {
    policy,
    cooler: share(after, 'cool'),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    shift: policy === 'single' ? NaN : shiftMs(samples, 'cool'),
    errors: samples.filter((sample) => sample.servedBy === 'error').length,
  };
}

/**
 * A third instance joins 5 s in: its share of the requests in its first second, against a fair third.
 * Slow start is what is measured, so the members already serving must not be critical: a member
 * joining members that are all critical starts at once (docs/cluster.md). Their level counts their
 * own event loops alone: unpinned, a CPU reading is the whole machine's, which other work and the
 * joiner's own start-up fill, and would make them critical with 0.6 of a core of requests.
 */
async function joinerRun(): Promise<{ firstSecond: number; afterBlackout: number; criticalAtJoin: number }> {
  const ownLoop = { saturation: { thresholds: countingOnly(['eventLoop']) } };
  const a = await service('a', undefined, ownLoop);
  const b = await service('b', undefined, { join: [a.url], ...ownLoop });
  const client = connect({ urls: [a.url, b.url], balancing: { blackoutMs: BLACKOUT_MS } });
  await client.ready();
  await waitMembers(client, 2);
  let linkedAt = NaN;
  let criticalAtJoin = 0;
  let runStart = 0;
  client.on('members', (members) => {
    if (Number.isNaN(linkedAt) && members.some((member) => member.id === 'c' && member.state === 'ready')) {
      linkedAt = performance.now() - runStart;
      criticalAtJoin = members.filter((member) => member.id !== 'c' && member.level === 'critical').length;
    }
  });
  let c: Service | undefined;
  runStart = performance.now();
  const samples = await fixedRate(client, 15, [[SLOW_AT_MS, () => void service('c', undefined, { join: [a.url], ...ownLoop }).then((started) => (c = started))]]);
  await client.close();
  await Promise.all([a, b, c].filter((item): item is Service => item !== undefined).map((item) => stop(item.child)));
  const windowShare = (from: number) => share(samples.filter((sample) => sample.at >= from && sample.at < from + 1_000), 'c');
  const fair = 1 / 3;
  return { firstSecond: windowShare(linkedAt) / fair, afterBlackout: windowShare(linkedAt + BLACKOUT_MS) / fair, criticalAtJoin };
}

/** utime + stime of a process, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** An idle instance reporting every second, against one with reporting off. */
async function reportingCost(): Promise<{ on: number; off: number }> {
  const on = await service('reporting', undefined);
  const off = await service('silent', undefined, { saturation: { enabled: false } });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const seconds = 20;
  const before = await Promise.all([on, off].map((item) => cpuSeconds(item.child.pid!)));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = await Promise.all([on, off].map((item) => cpuSeconds(item.child.pid!)));
  await Promise.all([stop(on.child), stop(off.child)]);
  return { on: ((after[0]! - before[0]!) / seconds) * 100, off: ((after[1]! - before[1]!) / seconds) * 100 };
}

async function main(): Promise<void> {
  folder = await mkdtemp(join(os.tmpdir(), 'pasarela-bench-balance-'));
  if (!PINNED) process.stderr.write('balance: one CPU only: instances and the neighbour are not pinned, the slowdown falls on both\n');
  const results: PolicyResult[] = [];
  for (const policy of ['weighted', 'round-robin', 'single'] as const) results.push(await policyRun(policy));
  const [ours, roundRobin, single] = results as [PolicyResult, PolicyResult, PolicyResult];
  line({ case: 'cooler instance share after the slowdown', unit: '%', ours: rounded(ours.cooler * 100, 1), peer: 'round robin', theirs: rounded(roundRobin.cooler * 100, 1), ratio: rounded(ours.cooler / roundRobin.cooler), target: '>= 70', met: ours.cooler >= 0.7 });
  for (const result of results) {
    line({ case: `latency, ${result.policy}`, unit: 'ms', p50: rounded(result.p50), p99: rounded(result.p99), errors: result.errors });
  }
  line({ case: 'p99 latency', unit: 'ms', ours: rounded(ours.p99), peer: 'round robin', theirs: rounded(roundRobin.p99), ratio: rounded(ours.p99 / roundRobin.p99), target: '<= 0.5 of round robin', met: ours.p99 <= roundRobin.p99 / 2 });
  line({ case: 'p99 latency against a single (slowed) instance', unit: 'ms', ours: rounded(ours.p99), peer: 'single instance', theirs: rounded(single.p99), ratio: rounded(ours.p99 / single.p99) });
  const targetShift = PERIOD_S * 1000 + 1000;
  line({ case: 'time from the slowdown to the shift', unit: 'ms', ours: rounded(ours.shift, 0), target: `<= ${targetShift}`, met: ours.shift <= targetShift });
  const joiner = await joinerRun();
  line({ case: 'joining instance share in its first second, of a fair share', unit: '%', ours: rounded(joiner.firstSecond * 100, 1), target: '<= 10', met: joiner.firstSecond <= 0.1, afterBlackout: rounded(joiner.afterBlackout * 100, 1), criticalAtJoin: joiner.criticalAtJoin });
  const cost = await reportingCost();
  const added = cost.on - cost.off;
  line({ case: 'CPU of reporting at a 1 s period (idle instance)', unit: '% of a core', ours: rounded(added, 3), peer: 'reporting off', with: rounded(cost.on, 3), without: rounded(cost.off, 3), target: '<= 1', met: added <= 1 });
}

try {
  await main();
} finally {
  await Promise.all([...children].map(stop));
  if (folder) await rm(folder, { recursive: true, force: true });
}

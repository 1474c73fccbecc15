/**
 * How light the gateway is, as the user runs it (`pasarela`, the built command in
 * dist/): each case in a process of its own, from spawn to its `ready` line, then
 * the resident memory (VmRSS) after 10 s idle. The floor is a bare Node process
 * with a TCP server and a ws server (bench/support/floor.mjs), measured in the same
 * rounds; every figure is reported against it.
 *
 * Cases: the gateway alone (no config: nothing but the engine, TCP, HTTP + WebSocket),
 * and the demo (`--demo`: every simulated device, the embedded MQTT broker).
 * Targets (issue 13): the gateway alone at most 1.5x the floor's memory and at most
 * 0.3 s more than the floor to ready; the demo at most 80 MB.
 *
 * Run: npm run bench -- footprint   (BENCH_ROUNDS, default 5; BENCH_IDLE_MS, default 10000)
 * dist/ is rebuilt first when a source file is newer than it. The cases run in turn,
 * round after round, so a busy spell of the machine falls on all of them. Prints one
 * JSON line per measurement: the median RSS of the rounds, and the best time to ready
 * (a busy machine only ever makes a start slower, as in bench/transport.ts), e.g.
 * {"bench":"footprint","case":"gateway alone: RSS after 10 s idle","unit":"MB","ours":N,"peer":"floor (node + net + ws)","theirs":M,"ratio":N/M}
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'gateway', 'cli.js');
const FLOOR = path.join(ROOT, 'bench', 'support', 'floor.mjs');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000);
const READY_LIMIT_MS = 30_000;

interface Case {
  name: string;
  args: string[];
}

const CASES: Case[] = [
  { name: 'floor', args: [FLOOR] },
  { name: 'gateway alone', args: [CLI, '--tcp', '0', '--http', '0'] },
  { name: 'demo', args: [CLI, '--demo', '--tcp', '0', '--http', '0'] },
];

interface Sample {
  readyMs: number;
  rssMB: number;
}

/** The newest modification time under `dir` of files ending in `.ts` (node_modules and dist skipped). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): void {
  const sources = Math.max(...['gateway', 'drivers', 'demo', 'firmware-sim'].map((dir) => newestSource(path.join(ROOT, dir))));
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    // not built yet
  }
  if (built >= sources) return;
  process.stderr.write('footprint: dist/ is older than the sources; building it (tsc -p tsconfig.build.json)\n');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

/** Spawns one case, times it to its `ready` line, waits the idle time, reads its RSS, stops it. */
async function measure(c: Case): Promise<Sample> {
  const started = performance.now();
  const child = spawn(process.execPath, c.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(String(chunk)));
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${c.name}: no ready line in ${READY_LIMIT_MS} ms\n${stderr.join('')}`)), READY_LIMIT_MS);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        let msg: unknown;
        try {
          msg = (JSON.parse(line) as { msg?: unknown }).msg;
        } catch {
          return;
        }
        if (msg !== 'ready') return;
        clearTimeout(timer);
        resolve(performance.now() - started);
      });
      child.once('exit', (code) => reject(new Error(`${c.name} exited (${code}) before ready\n${stderr.join('')}`)));
    });
    child.stdout!.resume();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return { readyMs, rssMB: rssMB(child.pid!) };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

function line(record: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: 'footprint', ...record }));
}

ensureBuilt();
const samples = new Map<string, Sample[]>(CASES.map((c) => [c.name, []]));
// Alternating, so the machine's load falls on every case alike.
for (let r = 0; r < ROUNDS; r++) {
  for (const c of CASES) samples.get(c.name)!.push(await measure(c));
}
const summary = (name: string) => {
  const list = samples.get(name)!;
  return { rss: median(list.map((s) => s.rssMB)), ready: Math.min(...list.map((s) => s.readyMs)) / 1000, all: list };
};
const floor = summary('floor');
const peer = 'floor (node + net + ws)';
for (const name of ['gateway alone', 'demo']) {
  const ours = summary(name);
  line({
    case: `${name}: RSS after ${IDLE_MS / 1000} s idle`,
    unit: 'MB',
    ours: round(ours.rss, 1),
    peer,
    theirs: round(floor.rss, 1),
    ratio: round(ours.rss / floor.rss),
    target: name === 'demo' ? 'at most 80 MB' : 'at most 1.5x the floor',
    rounds: ours.all.map((s) => round(s.rssMB, 1)),
  });
  line({
    case: `${name}: spawn to ready (best of ${ROUNDS})`,
    unit: 's',
    ours: round(ours.ready),
    peer,
    theirs: round(floor.ready),
    ratio: round(ours.ready / floor.ready),
    moreThanFloor: round(ours.ready - floor.ready),
    ...(name === 'demo' ? {} : { target: 'at most 0.3 s more than the floor' }),
    rounds: ours.all.map((s) => round(s.readyMs / 1000)),
  });
}

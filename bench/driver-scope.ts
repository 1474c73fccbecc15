/**
 * What isolating a driver's later failures costs: the fault scope (an
 * AsyncLocalStorage, gateway/driver-host/fault-scope.ts) makes every promise of the
 * process dearer on Node 20, so it is used only when a driver from outside runs. Each
 * side runs in a child process of its own (once a scope is in use, it stays so):
 * `ours` with a scoped driver running (a gateway with `drivers:`), `theirs` with the
 * same driver unscoped (a gateway of built-in drivers only).
 *
 * Cases: a local request answered by a handler (promises all the way), and a device
 * report through the supervisor's handle to a bound PATCH handler (synchronous). Each
 * side runs two rounds and keeps its best.
 *
 * Prints one JSON line per case, e.g.
 * {"bench":"driver-scope","case":"local request -> answer","unit":"request/s","ours":N,"peer":"unscoped","theirs":M,"ratio":N/M}
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DeviceHandle, Driver } from '../drivers/driver.js';
import { DeviceRegistry } from '../gateway/devices/registry.js';
import { DriverSupervisor } from '../gateway/driver-host/supervisor.js';
import { Engine } from '../gateway/jstp/engine.js';
import { silentLogger } from '../gateway/jstp/logger.js';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1_000);
const ROUNDS = 2;
const PEER = 'unscoped';

interface Rates {
  request: number;
  report: number;
}

async function best(round: () => Promise<number>): Promise<number> {
  await round(); // warm-up
  let top = 0;
  for (let i = 0; i < ROUNDS; i++) top = Math.max(top, await round());
  return top;
}

/** One side: a driver under a supervisor, scoped or not, and the two loops. */
async function side(scoped: boolean): Promise<Rates> {
  const engine = new Engine({ answerTimeoutMs: 10_000 });
  const registry = new DeviceRegistry({ engine });
  let handle: DeviceHandle | undefined;
  const driver: Driver = {
    name: 'bench',
    async start(context) {
      handle = context.addDevice({ key: 'b', id: 'b', properties: { level: { type: 'integer' } } }, {});
      handle.setOnline(true);
    },
    async stop() {},
  };
  const supervisor = new DriverSupervisor({ driver, registry, logger: silentLogger(), devices: [], options: {}, profiles: {}, source: { origin: 'file' }, restart: false, scoped });
  await supervisor.start();
  engine.bind({ method: 'GET', resource: ['ping'] }, () => 1);
  let reports = 0;
  engine.bind({ method: 'PATCH', resource: ['devices', 'b', 'properties', 'level'] }, () => void reports++);

  const request = await best(async () => {
    let count = 0;
    const until = performance.now() + ROUND_MS;
    const started = performance.now();
    while (performance.now() < until) {
      for (let i = 0; i < 100; i++) await engine.get(['ping']);
      count += 100;
    }
    return count / ((performance.now() - started) / 1000);
  });
  const report = await best(async () => {
    const before = reports;
    const until = performance.now() + ROUND_MS;
    const started = performance.now();
    let value = 0;
    while (performance.now() < until) for (let i = 0; i < 1_000; i++) handle!.reportProperty('level', value++);
    return (reports - before) / ((performance.now() - started) / 1000);
  });
  await supervisor.stop();
  engine.close();
  return { request, report };
}

const mode = process.argv[2];
if (mode === '--side') {
  process.stdout.write(`${JSON.stringify(await side(process.argv[3] === 'scoped'))}\n`);
} else {
  const run = promisify(execFile);
  const measure = async (which: string): Promise<Rates> => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--side', which], { env: process.env });
    return JSON.parse(stdout) as Rates;
  };
  const theirs = await measure('unscoped');
  const ours = await measure('scoped');
  const line = (name: string, unit: string, a: number, b: number) =>
    process.stdout.write(`${JSON.stringify({ bench: 'driver-scope', case: name, unit, ours: Math.round(a), peer: PEER, theirs: Math.round(b), ratio: Number((a / b).toFixed(2)) })}\n`);
  line('local request -> answer', 'request/s', ours.request, theirs.request);
  line('device report -> PATCH handler', 'report/s', ours.report, theirs.report);
}

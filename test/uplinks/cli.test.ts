/**
 * The real `pasarela` command with an uplinks config: an outage of the far end (stopped,
 * restarted on the same port: nothing lost, order kept, the replay reported), a full
 * buffer under both policies (counters and the 80% event), a store on a read-only or
 * full filesystem (exit non-zero, a clear message), and better-sqlite3 loaded only when
 * an uplink is configured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';
import type { Client } from '../../gateway/client.js';
import type { UplinkStatus } from '../../gateway/uplinks/uplink.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { connectedClient } from '../support/connected-client.js';
import { deadPort, parseJson, pasarelaRuns, ROOT, Run } from '../support/pasarela.js';
import { until } from '../support/until.js';
import { checkHistory, eventually, startFarEnd, temporaryFolder, type Arrival } from './harness.js';
import { produce } from './producer.js';

const { gateway, pasarela } = pasarelaRuns();
const cleanups = cleanupsAfterEach();
const folder = temporaryFolder('pasarela-uplinks-cli-');
let configs = 0;


/** A config file with one uplink named cloud; `extra` lines go under it. */
async function configFile(url: string, extra: string[] = []): Promise<string> {
  const path = join(folder(), `pasarela-${configs++}.yaml`);
  await writeFile(
    path,
    ['uplinks:', '  - name: cloud', `    url: ${url}`, '    sender: test-pi', '    forward: ["PATCH devices/..."]', '    reconnect: { initialMs: 20, maxMs: 200 }', ...extra.map((line) => `    ${line}`), ''].join('\n'),
  );
  return path;
}

const client = (tcp: number): Promise<Client> => connectedClient(tcp, cleanups);

async function uplinkStatus(peer: Client): Promise<UplinkStatus> {
  return ((await peer.get(['gateway', 'uplinks'])).body as UplinkStatus[])[0]!;
}

/** Arrivals with the same id kept once: what a far end that restarted (and forgot) saw twice. */
function firstOfEach(arrivals: readonly Arrival[]): Arrival[] {
  const seen = new Set<string>();
  return arrivals.filter((arrival) => {
    const key = arrival.id.join('/');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

describe('pasarela with uplinks', () => {
  it('outage: the far end stops and comes back on the same port; nothing lost, order kept, the replay reported', async () => {
    const port = await deadPort();
    let far = await startFarEnd({ port });
    const ends = [far];
    cleanups.push(() => Promise.all(ends.map((end) => end.close())));
    const { run, tcp } = await gateway('-c', await configFile(`tcp://127.0.0.1:${port}`, ['buffer: { path: outage/uplinks.sqlite }']));
    const peer = await client(tcp);
    await eventually(async () => (await uplinkStatus(peer)).connected, 'the uplink to connect');
    const producer = produce({ port: tcp, from: 0, window: 4, intervalMs: 1 });
    await until(() => far.delivered.length >= 200, 'dispatches flowing', 10_000);
    await far.close();
    await eventually(async () => !(await uplinkStatus(peer)).connected, 'the uplink to see the far end gone');
    const during = producer.accepted.length;
    await until(() => producer.accepted.length >= during + 300, 'dispatches accepted while the far end is away', 10_000);
    const down = await uplinkStatus(peer);
    expect(down.queued.count).toBeGreaterThan(0);
    far = await startFarEnd({ port });
    ends.push(far);
    await eventually(async () => (await uplinkStatus(peer)).connected, 'the uplink to come back', 10_000);
    await producer.stop();
    await eventually(async () => (await uplinkStatus(peer)).queued.count === 0, 'the queue to drain', 15_000);

    const raw = ends.flatMap((end) => end.raw);
    const delivered = firstOfEach(ends.flatMap((end) => end.delivered));
    // The far end that restarted forgot its dedup memory: what was in flight when it
    // stopped may reach it again, and only that.
    const again = ends.flatMap((end) => end.delivered).length - delivered.length;
    const figures = checkHistory({ accepted: producer.accepted, raw, delivered });
    expect(again).toBeLessThanOrEqual(figures.duplicatesOnTheWire);
    const replay = await run.log('uplink replay done');
    expect(replay).toMatchObject({ uplink: 'cloud' });
    expect(replay.dispatches as number).toBeGreaterThanOrEqual(300);
    const up = await uplinkStatus(peer);
    expect(up.lastReplay).toMatchObject({ dispatches: replay.dispatches });
    expect(run.stdout.filter((line) => parseJson(line)?.msg === 'uplink disconnected')).toHaveLength(1);
  });

  for (const whenFull of ['drop-oldest', 'refuse-new'] as const) {
    it(`a full buffer, ${whenFull}: counted, the 80% event, and the far end gets what was kept`, async () => {
      const port = await deadPort();
      const { tcp } = await gateway('-c', await configFile(`tcp://127.0.0.1:${port}`, [`buffer: { path: full-${whenFull}/uplinks.sqlite, maxBytes: 20KB, whenFull: ${whenFull} }`]));
      const peer = await client(tcp);
      const events: Record<string, unknown>[] = [];
      peer.bind({ method: 'POST', resource: ['gateway', 'events', 'buffer'] }, (incoming) => void events.push(incoming.body as Record<string, unknown>));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Each stored PATCH is about 160 bytes: 400 of them are three times the buffer.
      const producer = produce({ port: tcp, from: 0, window: 8, count: 400 });
      await until(() => producer.accepted.length + [...producer.refused.values()].reduce((a, b) => a + b, 0) === 400, 'every answer', 15_000);
      await producer.stop();
      await until(() => events.some((event) => event.level === 'full'), 'the full event');
      expect(events[0]).toMatchObject({ uplink: 'cloud', level: 'warning', maxBytes: 20_000, whenFull });
      expect(events[0]!.percent as number).toBeGreaterThanOrEqual(80);
      expect(events[1]).toMatchObject({ level: 'full' });
      const full = await uplinkStatus(peer);
      expect(full.queued.bytes).toBeLessThanOrEqual(20_000);
      if (whenFull === 'drop-oldest') {
        expect(producer.accepted).toHaveLength(400);
        expect(full.dropped.oldest).toBe(400 - full.queued.count);
        expect(full.dropped.refused).toBe(0);
      } else {
        expect(producer.refused.get(500)).toBe(400 - producer.accepted.length);
        expect(full.dropped).toMatchObject({ oldest: 0, refused: 400 - producer.accepted.length });
        expect(full.queued.count).toBe(producer.accepted.length);
      }
      expect(full.dropped.total).toBe(400 - full.queued.count);

      const far = await startFarEnd({ port });
      cleanups.push(() => far.close());
      await eventually(async () => (await uplinkStatus(peer)).queued.count === 0, 'the queue to drain', 10_000);
      const bodies = far.delivered.map((arrival) => arrival.body as number);
      const kept = full.queued.count;
      // drop-oldest keeps the newest; refuse-new the oldest.
      expect(bodies).toEqual(whenFull === 'drop-oldest' ? [...Array(kept).keys()].map((n) => 400 - kept + n) : [...Array(kept).keys()]);
      await until(() => events.at(-1)?.level === 'ok', 'the ok event');
    });
  }

  it('loads better-sqlite3 only when an uplink is configured', async () => {
    const recorder = pathToFileURL(join(ROOT, 'test', 'support', 'record-loads.mjs')).href;
    const loaded = async (args: string[]): Promise<string[]> => {
      const file = join(folder(), `loads-${configs++}.txt`);
      // The recorder reads its file name from the environment the child is spawned with.
      process.env.PASARELA_LOADS_FILE = file;
      let run: Run;
      try {
        run = new Run(['--import', 'tsx', '--import', recorder, join(ROOT, 'gateway', 'cli.ts'), '--tcp', '0', '--http', '0', ...args], 'node');
      } finally {
        delete process.env.PASARELA_LOADS_FILE;
      }
      cleanups.push(() => run.kill());
      await run.log('ready');
      run.kill();
      await run.exited;
      return (await readFile(file, 'utf8')).split('\n').filter((line) => line.includes('/node_modules/better-sqlite3/'));
    };
    expect(await loaded([])).toEqual([]);
    const port = await deadPort();
    expect((await loaded(['-c', await configFile(`tcp://127.0.0.1:${port}`, ['buffer: { path: loads/uplinks.sqlite }'])])).length).toBeGreaterThan(0);
  });
});

/** A tmpfs mounted for one test, or the reason it cannot be. */
function mountTmpfs(at: string, options: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root: cannot mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

function unmount(at: string): void {
  try {
    execFileSync('umount', ['-l', at], { stdio: 'pipe' });
  } catch {
    // Not mounted: nothing to undo.
  }
}

/** A tmpfs mounted with `options` for one test (unmounted after it); skips the test, saying why, where none can be. */
async function tmpfs(name: string, options: string, context: TestContext): Promise<string> {
  const mount = join(folder(), name);
  await mkdir(mount, { recursive: true });
  const reason = mountTmpfs(mount, options);
  if (reason) {
    console.log(`skipped: ${reason}`);
    context.skip();
  }
  cleanups.push(() => unmount(mount));
  return mount;
}

describe('a store on a filesystem that fails', () => {
  it('read-only: the gateway does not start, exits non-zero and says why', async (context) => {
    const mount = await tmpfs('read-only', 'size=1m,ro', context);
    const run = pasarela('--tcp', '0', '--http', '0', '-c', await configFile('tcp://127.0.0.1:1', [`buffer: { path: ${join(mount, 'uplinks.sqlite')} }`]));
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    const message = run.stderr.join('\n');
    expect(message).toContain(`uplink store ${join(mount, 'uplinks.sqlite')}`);
    expect(message).toMatch(/read-only|readonly|unable to open/i);
  });

  it('full: the write that fails is fatal, the gateway exits non-zero and says why; restarted elsewhere, nothing accepted is lost', async (context) => {
    const mount = await tmpfs('full', 'size=256k', context);
    const store = join(mount, 'uplinks.sqlite');
    const { run, tcp } = await gateway('-c', await configFile('tcp://127.0.0.1:1', [`buffer: { path: ${store} }`]));
    const producer = produce({ port: tcp, from: 0, window: 32 });
    const exit = await run.exited;
    await producer.stop();
    expect(exit.code).toBe(1);
    const message = run.stderr.join('\n');
    expect(message).toContain(`pasarela: uplink store ${store}: a write failed`);
    expect(message).toMatch(/SQLITE_FULL|disk is full/);
    expect(producer.accepted.length).toBeGreaterThan(0);
    // What it answered as accepted is in the file: copy it out and read it on a disk with room.
    const copy = join(folder(), 'after-full');
    await mkdir(copy, { recursive: true });
    execFileSync('cp', [store, ...['-wal', '-shm'].map((suffix) => store + suffix).filter((file) => existsSync(file)), copy]);
    const port = await deadPort();
    const far = await startFarEnd({ port });
    cleanups.push(() => far.close());
    const again = await gateway('-c', await configFile(`tcp://127.0.0.1:${port}`, [`buffer: { path: ${join(copy, 'uplinks.sqlite')} }`]));
    const peer = await client(again.tcp);
    await eventually(async () => (await uplinkStatus(peer)).queued.count === 0, 'the queue to drain', 15_000);
    checkHistory({ accepted: producer.accepted, raw: far.raw, delivered: far.delivered });
  });
});

/**
 * The balancing client, `connect({ urls })`, against real instances of the key-value
 * example, each keeping its data on a small tmpfs that the test fills (root only:
 * skipped with the reason printed otherwise). New requests move to the cooler
 * instance; a drained instance gets no new requests and loses none in flight, refuses
 * new balancing links with a redirect, and serves again once clear; a link that
 * drops is retried while the other member carries the traffic. Without reports the
 * client goes round robin. Assertions are on shares, with generous deadlines.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connect, type BalancedClient, type BalancingOptions } from '../../gateway/client.js';
import type { LevelChange } from '../../gateway/saturation/report.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { mountTmpfs, skipWithoutTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { eventually, until } from '../support/until.js';
import { instances, onlyCounting, type Instance } from './instances.js';

const { start, restart, dir } = instances();
const cleanups = cleanupsAfterEach();

async function disk(): Promise<Tmpfs> {
  const mounted = await mountTmpfs(16 * 1024 * 1024);
  cleanups.push(() => mounted.unmount());
  return mounted;
}

function kvConfig(name: string, data: string, join: Instance[] = []): Record<string, unknown> {
  return {
    saturation: { periodS: 1, sustain: 2, windowS: 1, dataDir: data, thresholds: onlyCounting('disk') },
    cluster: { name: 'kv', member: name, join: join.map((instance) => instance.url), replicated: [['kv', '...']], leaveAfterS: 3 },
  };
}

function balancer(urls: string[], balancing?: BalancingOptions): BalancedClient {
  const client = connect({ urls, answerTimeoutMs: 10_000, reconnect: { initialMs: 100, maxMs: 1_000 }, ...(balancing ? { balancing } : {}) });
  cleanups.push(() => client.close());
  return client;
}

/** Sends `count` reads one after another; how many each member served. */
async function reads(client: BalancedClient, count: number, key = 'k'): Promise<Record<string, number>> {
  const served: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const answer = await client.get(['kv', key]);
    const by = (answer.body as { servedBy: string }).servedBy;
    served[by] = (served[by] ?? 0) + 1;
  }
  return served;
}

function member(client: BalancedClient, id: string) {
  return client.members().find((entry) => entry.id === id);
}

/**
 * Writes a key through the balancer once the members link each other, and waits
 * until every instance has it (the example copies writes to the members it links).
 */
async function seed(client: BalancedClient, members: Instance[], key = 'k', value: unknown = 'value'): Promise<number> {
  const directs = await Promise.all(
    members.map(async (instance) => {
      const direct = connect(instance.url, { reconnect: false });
      cleanups.push(() => direct.close());
      await direct.ready();
      return direct;
    }),
  );
  const linked = (answer: { body: unknown } | undefined) => (answer?.body as { members: { linked: boolean }[] } | undefined)?.members.every((m) => m.linked) === true;
  for (const direct of directs) await eventually(() => direct.get(['cluster']), linked, 'the members to link each other', 20_000);
  const { version } = (await client.put(['kv', key], value)).body as { version: number };
  for (const direct of directs) await eventually(() => direct.get(['kv', key]), (answer) => answer?.status === 200, 'every member to get the write', 20_000);
  return version;
}

/** The level changes an instance announces, as its subscribers get them. */
async function events(instance: Instance): Promise<LevelChange[]> {
  const client = connect(instance.url, { reconnect: false });
  cleanups.push(() => client.close());
  await client.ready();
  const seen: LevelChange[] = [];
  client.bind({ method: 'POST', resource: ['gateway', 'events', 'saturation'] }, (incoming) => {
    seen.push(incoming.body as LevelChange);
  });
  return seen;
}

describe('the balancing client', () => {
  it('moves new requests to the cooler instance', async (context) => {
    skipWithoutTmpfs(context);
    const [diskA, diskB] = [await disk(), await disk()];
    await diskA.fill(0.3);
    await diskB.fill(0.3);
    const a = await start(kvConfig('a', diskA.path), { kind: 'kv' });
    const b = await start(kvConfig('b', diskB.path, [a]), { kind: 'kv' });
    // Only a is given: b is learned from its cluster.
    const client = balancer([a.url]);
    await client.ready();
    await until(() => member(client, 'b')?.state === 'ready' && client.members().every((m) => m.utilization !== undefined), 'both members linked with reports', 20_000);
    await seed(client, [a, b]);
    const even = await reads(client, 200);
    console.log(`equal disks: ${JSON.stringify(even)}`);
    expect(even.a).toBeGreaterThan(40);
    expect(even.b).toBeGreaterThan(40);

    await diskA.fill(0.9);
    await until(() => (member(client, 'a')?.utilization ?? 0) >= 0.85, 'a report of the fuller disk', 15_000);
    const shifted = await reads(client, 200);
    console.log(`a at 90%, b at 30%: ${JSON.stringify(shifted)}`);
    expect((shifted.b ?? 0) / 200).toBeGreaterThanOrEqual(0.8);
  });

  it('drains a critical instance: no new requests, none lost in flight, links refused with a redirect, and it serves again once clear', async (context) => {
    skipWithoutTmpfs(context);
    const [diskA, diskB] = [await disk(), await disk()];
    const a = await start(kvConfig('a', diskA.path), { kind: 'kv' });
    const b = await start(kvConfig('b', diskB.path, [a]), { kind: 'kv' });
    const levels = await events(a);
    const client = balancer([a.url, b.url]);
    await client.ready();
    await until(() => client.members().filter((m) => m.state === 'ready').length === 2, 'both members ready', 20_000);
    const version = await seed(client, [a, b], 'k', 'first');

    // Blocking reads in flight on both: each waits up to 4 s for a newer version.
    const waiting = Array.from({ length: 20 }, () => client.get(['kv', 'k'], { after: version + 100, waitMs: 4_000 }));
    await until(() => (member(client, 'a')?.inflight ?? 0) > 0 && (member(client, 'b')?.inflight ?? 0) > 0, 'reads in flight on both', 5_000);
    const inFlightOnA = member(client, 'a')!.inflight;

    await diskA.fill(0.97);
    await until(() => levels.some((change) => change.to === 'critical'), 'a to become critical', 10_000);
    // New requests from now on: none reaches a (a refusal in the moment before its report arrives is sent on to b).
    const during = await reads(client, 100);
    console.log(`a draining: ${JSON.stringify(during)}; ${inFlightOnA} reads were in flight on a`);
    expect(during.a ?? 0).toBe(0);
    expect(during.b).toBe(100);
    // What was in flight finishes, on both.
    const finished = await Promise.all(waiting);
    expect(finished.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(finished.filter((answer) => (answer.body as { servedBy: string }).servedBy === 'a').length).toBeGreaterThanOrEqual(inFlightOnA);

    // A new balancing client given only a is refused by it, follows the redirect to b, and tries a again later.
    const late = balancer([a.url]);
    await late.ready();
    expect((await late.get(['kv', 'k'])).body).toMatchObject({ servedBy: 'b' });
    expect(member(late, a.url)?.state ?? member(late, 'a')?.state).toBe('refused');
    expect(a.logs('draining: refusing new balancing links and new replicated requests')).toHaveLength(1);

    // Clear: the level drops below 0.7, and new requests reach a again.
    await diskA.empty();
    await until(() => levels.some((change) => change.to === 'ok'), 'a to clear', 20_000);
    await until(() => member(client, 'a')?.state === 'ready', 'a serving again', 10_000);
    const after = await reads(client, 200);
    console.log(`a clear: ${JSON.stringify(after)}`);
    expect(after.a).toBeGreaterThan(30);
    await until(() => member(late, 'a')?.state === 'ready', 'the refused link to come back', 20_000);
  });

  it('retries a link that drops while the other member carries the traffic', async () => {
    const data = await dir();
    const a = await start(kvConfig('a', join(data, 'a')), { kind: 'kv' });
    const b = await start(kvConfig('b', join(data, 'b'), [a]), { kind: 'kv' });
    // A short slow start: b coming back is a member joining a client that serves.
    const client = balancer([a.url, b.url], { blackoutMs: 300, rampMs: 1_000 });
    await client.ready();
    await until(() => client.members().filter((m) => m.state === 'ready').length === 2, 'both members ready', 20_000);
    await seed(client, [a, b]);

    b.run.kill('SIGKILL');
    await b.run.exited;
    const alone = await reads(client, 50);
    expect(alone).toEqual({ a: 50 });
    // b comes back on the same ports: the client's backoff finds it.
    const file = join(data, 'b-again.yaml');
    await writeFile(file, stringify({ ...kvConfig('b', join(data, 'b'), [a]), listen: { tcp: b.tcp, http: b.http } }));
    await restart(file, 'kv');
    await until(() => member(client, 'b')?.state === 'ready', 'b linked again', 20_000);
    expect(member(client, 'b')!.slowStart).toBe(true);
    await seed(client, [a, b]);
    await until(() => (member(client, 'b')?.weight ?? 0) >= 0.3, 'b past its slow start', 20_000);
    const both = await reads(client, 200);
    // Carrying traffic again (its exact share rides on two reports from a busy machine).
    expect(both.b).toBeGreaterThan(20);
  });

  it('goes round robin when no member reports, and binds on every member', async () => {
    const a = await start({ saturation: { enabled: false } });
    const b = await start({ saturation: { enabled: false } });
    const client = balancer([a.url, b.url]);
    await client.ready();
    await until(() => client.members().filter((m) => m.state === 'ready').length === 2, 'both members ready', 20_000);
    for (let i = 0; i < 40; i++) await client.get(['gateway']);
    // In turn: the two counts never differ by more than one.
    const sent = client.members().map((m) => m.sent);
    expect(sent[0]! + sent[1]!).toBe(40);
    expect(Math.abs(sent[0]! - sent[1]!)).toBeLessThanOrEqual(1);

    const seen: unknown[] = [];
    client.bind({ method: 'POST', resource: ['events', '*'] }, (incoming) => {
      seen.push(incoming.body);
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const instance of [a, b]) {
      const direct = connect(instance.url, { reconnect: false });
      cleanups.push(() => direct.close());
      await direct.ready();
      direct.emit('POST', ['events', 'hello'], { from: instance.tcp });
    }
    await until(() => seen.length === 2, 'an event from each member', 10_000);
    expect(seen).toEqual(expect.arrayContaining([{ from: a.tcp }, { from: b.tcp }]));
  });
});

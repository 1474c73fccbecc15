/**
 * The example service of docs/examples/kv-store: two real instances of the program,
 * a balancing client over them. Writes reach both replicas, a blocking read wakes on
 * a write, each instance reports the disk of its data folder, and bad input is
 * answered, not crashed on.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import type { SaturationReport } from '../../gateway/saturation/report.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { eventually } from '../support/until.js';
import { instances, onlyCounting, type Instance } from './instances.js';

const { start, dir } = instances();
const cleanups = cleanupsAfterEach();

async function direct(instance: Instance): Promise<Client> {
  const client = connect(instance.url, { reconnect: false });
  cleanups.push(() => client.close());
  await client.ready();
  return client;
}

async function replicas(): Promise<{ a: Instance; b: Instance; data: string }> {
  const data = await dir();
  const config = (name: string, join_: Instance[]) => ({
    saturation: { periodS: 1, dataDir: join(data, name), thresholds: onlyCounting('disk') },
    cluster: { name: 'kv', member: name, join: join_.map((instance) => instance.url), replicated: [['kv', '...']] },
  });
  const a = await start(config('a', []), { kind: 'kv' });
  const b = await start(config('b', [a]), { kind: 'kv' });
  // Each lists the other as linked before the test writes.
  for (const instance of [a, b]) {
    const client = await direct(instance);
    await eventually(() => client.get(['cluster']), (answer) => (answer?.body as { members: { linked: boolean }[] } | undefined)?.members.some((m) => m.linked) === true, 'the replicas to link', 20_000);
  }
  return { a, b, data };
}

describe('the key-value example', () => {
  it('copies writes to every replica, and a blocking read wakes on a write', async () => {
    const { a, b } = await replicas();
    const client = connect({ urls: [a.url, b.url] });
    cleanups.push(() => client.close());
    await client.ready();
    const { version } = (await client.put(['kv', 'greeting'], { text: 'hola' })).body as { version: number };
    const [toA, toB] = [await direct(a), await direct(b)];
    for (const replica of [toA, toB]) {
      const answer = await eventually(() => replica.get(['kv', 'greeting']), (got) => got?.status === 200, 'the write on every replica');
      expect(answer?.body).toMatchObject({ value: { text: 'hola' }, version });
    }
    expect(((await toA.get(['kv', 'greeting'])).body as { servedBy: string }).servedBy).toBe('a');
    expect(((await toB.get(['kv'])).body as string[])).toEqual(['greeting']);

    // A read waiting for a newer version than the one there, on b; the write goes to a.
    const waiting = toB.get(['kv', 'greeting'], { after: version, waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await toA.put(['kv', 'greeting'], { text: 'adiós' });
    const woken = await waiting;
    expect(woken.body).toMatchObject({ value: { text: 'adiós' }, version: version + 1, servedBy: 'b' });
    expect(Date.now() - started).toBeLessThan(5_000);

    await toB.delete(['kv', 'greeting']);
    const status = (error: unknown) => (error as { status?: number } | undefined)?.status;
    let gone: number | undefined;
    await eventually(() => toA.get(['kv', 'greeting']), (_answer, error) => (gone = status(error)) === 404, 'the delete on a');
    expect(gone).toBe(404);
  });

  it('reports the disk of its data folder, and answers bad input instead of failing', async () => {
    const { a, data } = await replicas();
    const client = await direct(a);
    const report = (await client.get(['gateway', 'saturation'])).body as SaturationReport;
    expect(report.disk.paths[0]).toMatchObject({ path: join(data, 'a') });
    expect(report.limiting).toBe('disk');
    await expect(client.get(['kv', 'x'.repeat(201)])).rejects.toMatchObject({ status: 400 });
    await expect(client.get(['kv', 'nothing'])).rejects.toMatchObject({ status: 404 });
    await client.put(['kv', 'odd/key with spaces'], [1, 2, 3]);
    expect((await client.get(['kv', 'odd/key with spaces'])).body).toMatchObject({ value: [1, 2, 3] });
  });
});

/**
 * The durable outbox on a real SQLite file: the queue contract (and the memory queue
 * against the same contract), then what only the file does: survive a close and a
 * reopen with a later boot, group commits of at most 100 dispatches, WAL on the file,
 * removals that a reopen does not bring back, and a file that is not a database.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import { memoryQueue } from '../../gateway/uplinks/memory-queue.js';
import { Outbox } from '../../gateway/uplinks/outbox.js';
import type { QueueBounds } from '../../gateway/uplinks/queue.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { temporaryFolder } from './harness.js';
import { queueContract } from './queue-contract.js';

const cleanups = cleanupsAfterEach();
const folder = temporaryFolder('pasarela-outbox-');
let files = 0;


const roomy: QueueBounds = { maxBytes: 1e9, maxAgeMs: 1e9, whenFull: 'drop-oldest' };

async function open(path = join(folder(), `store-${files++}.sqlite`), options: { maxBatch?: number } = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ path, ...options });
  cleanups.push(() => outbox.close());
  return outbox;
}

queueContract('SQLite', { make: async (bounds) => (await open()).queue('q', bounds) });
queueContract('memory', {
  make: async (bounds) => {
    const queue = memoryQueue('q', bounds);
    cleanups.push(() => queue.stop());
    return queue;
  },
});

describe('the SQLite outbox', () => {
  it('keeps every accepted entry across a close and a reopen, which is a later boot', async () => {
    const path = join(folder(), 'reopen.sqlite');
    const first = await Outbox.open({ path });
    const queue = first.queue('cloud', roomy);
    const ids = await Promise.all(Array.from({ length: 120 }, (_, n) => queue.append(`{"n":${n}}`)));
    queue.ack(queue.head + 19);
    await first.close();

    const second = await open(path);
    expect(second.boot).toBeGreaterThan(first.boot);
    const again = second.queue('cloud', roomy);
    expect(again.stats()).toMatchObject({ queued: 100, bytes: ids.slice(20).reduce((sum, _, n) => sum + `{"n":${n + 20}}`.length, 0) });
    const entries = again.read(again.head, 1_000);
    expect(entries.map((entry) => JSON.parse(entry.text).n)).toEqual([...Array(100).keys()].map((n) => n + 20));
    // Ids never change: the entries keep the boot and sequence they were accepted with.
    expect(entries.map((entry) => [entry.boot, entry.seq])).toEqual(ids.slice(20).map((id) => [id.boot, id.seq]));
    const next = await again.append('{"n":120}');
    expect(next).toEqual({ boot: second.boot, seq: 1 });
  });

  it('commits in groups of at most 100 dispatches, and one per dispatch when told to', async () => {
    const grouped = await open();
    const queue = grouped.queue('q', roomy);
    await Promise.all(Array.from({ length: 1_000 }, (_, n) => queue.append(`{"n":${n}}`)));
    // The boot written at open is one transaction; then at least ten of at most 100.
    expect(grouped.stats().transactions).toBeGreaterThanOrEqual(11);
    expect(grouped.stats().transactions).toBeLessThan(1_000);

    const naive = await open(undefined, { maxBatch: 1 });
    const one = naive.queue('q', roomy);
    await Promise.all(Array.from({ length: 50 }, (_, n) => one.append(`{"n":${n}}`)));
    expect(naive.stats().transactions).toBe(51);
  });

  it('puts the file in WAL mode, and keeps queues apart in one file', async () => {
    const path = join(folder(), 'two-queues.sqlite');
    const outbox = await open(path);
    const a = outbox.queue('a', roomy);
    const b = outbox.queue('b', roomy);
    await Promise.all([a.append('{"q":"a"}'), b.append('{"q":"b"}'), a.append('{"q":"a2"}')]);
    expect(a.read(0, 10).map((entry) => entry.text)).toEqual(['{"q":"a"}', '{"q":"a2"}']);
    expect(b.read(0, 10).map((entry) => entry.text)).toEqual(['{"q":"b"}']);
    expect(() => outbox.queue('a', roomy)).toThrow(/open already/);
    const look = new Database(path, { readonly: true });
    expect(look.pragma('journal_mode', { simple: true })).toBe('wal');
    look.close();
  });

  it('makes removals durable: a reopen does not bring acknowledged or dropped entries back', async () => {
    const path = join(folder(), 'removals.sqlite');
    const first = await Outbox.open({ path });
    const queue = first.queue('q', { maxBytes: 100, maxAgeMs: 1e9, whenFull: 'drop-oldest' });
    for (let n = 0; n < 20; n++) await queue.append(`{"n":"${String(n).padStart(2, '0')}"}`);
    queue.ack(queue.head);
    expect(queue.stats().droppedOldest).toBe(10);
    await first.close();
    const second = await open(path);
    const again = second.queue('q', roomy);
    expect(again.read(0, 100).map((entry) => JSON.parse(entry.text).n)).toEqual(['11', '12', '13', '14', '15', '16', '17', '18', '19']);
  });

  it('refuses to open a file that is not a database, with PASARELA_STORE naming it', async () => {
    const path = join(folder(), 'not-a-db.sqlite');
    await writeFile(path, 'this is not SQLite, just text that is long enough to be read as a header. '.repeat(20));
    await expect(Outbox.open({ path })).rejects.toMatchObject({ code: ErrorCode.Store, message: expect.stringContaining(path) });
  });
});

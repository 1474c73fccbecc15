/**
 * The contract of an outbox queue (gateway/uplinks/queue.ts), run against every
 * implementation: order, reading only what is accepted, cumulative acknowledgement,
 * both policies at maxBytes and maxAgeMs with their counters, and the fill levels.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import type { FillLevel, OutboxQueue, QueueBounds } from '../../gateway/uplinks/queue.js';
import { until } from '../support/until.js';

export interface QueueMaker {
  /** A fresh queue; `now` lets a test move its clock. */
  make(bounds: QueueBounds): Promise<OutboxQueue>;
}

const roomy: QueueBounds = { maxBytes: 1e9, maxAgeMs: 1e9, whenFull: 'drop-oldest' };

/** A dispatch's text of exactly `bytes` bytes, numbered. */
function text(n: number, bytes = 100): string {
  const base = JSON.stringify({ method: 'PATCH', resource: ['devices', 'd', 'properties', 't'], body: { n, pad: '' } });
  return base.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, bytes - base.length))}"`);
}

function numbers(queue: OutboxQueue, from = 0): number[] {
  return queue.read(from, 100_000).map((entry) => (JSON.parse(entry.text) as { body: { n: number } }).body.n);
}

function levels(queue: OutboxQueue): FillLevel[] {
  const seen: FillLevel[] = [];
  queue.onLevel((level) => seen.push(level));
  return seen;
}

export function queueContract(name: string, maker: QueueMaker): void {
  describe(`outbox queue contract: ${name}`, () => {
    it('keeps the order of appends, reads only accepted entries, and gives each an id in sequence', async () => {
      const queue = await maker.make(roomy);
      const ids = await Promise.all(Array.from({ length: 250 }, (_, n) => queue.append(text(n))));
      expect(numbers(queue)).toEqual([...Array(250).keys()]);
      expect(ids.map((id) => id.seq)).toEqual(ids.map((_, n) => ids[0]!.seq + n));
      expect(new Set(ids.map((id) => id.boot)).size).toBe(1);
      const entries = queue.read(queue.head, 3);
      expect(entries.map((entry) => entry.pos)).toEqual([queue.head, queue.head + 1, queue.head + 2]);
      expect(entries[0]!.bytes).toBe(100);
      expect(queue.stats()).toMatchObject({ queued: 250, bytes: 25_000, accepted: 250, acknowledged: 0 });
    });

    it('tells when new entries can be read', async () => {
      const queue = await maker.make(roomy);
      let told = 0;
      queue.onCommitted(() => told++);
      await queue.append(text(1));
      await until(() => told > 0, 'the committed listener');
      expect(queue.read(queue.head, 10)).toHaveLength(1);
    });

    it('forgets acknowledged entries, cumulatively, and counts them', async () => {
      const queue = await maker.make(roomy);
      await Promise.all(Array.from({ length: 10 }, (_, n) => queue.append(text(n))));
      const head = queue.head;
      expect(queue.ack(head + 3)).toBe(4);
      expect(queue.ack(head + 1)).toBe(0);
      expect(queue.head).toBe(head + 4);
      expect(numbers(queue, 0)).toEqual([4, 5, 6, 7, 8, 9]);
      expect(queue.stats()).toMatchObject({ queued: 6, bytes: 600, acknowledged: 4 });
      expect(queue.ack(head + 1000)).toBe(6);
      expect(queue.stats()).toMatchObject({ queued: 0, bytes: 0, oldestAt: undefined });
    });

    it('drop-oldest: drops the oldest at maxBytes, counts them, warns at 80% and says full', async () => {
      const queue = await maker.make({ maxBytes: 1_000, maxAgeMs: 1e9, whenFull: 'drop-oldest' });
      const seen = levels(queue);
      for (let n = 0; n < 8; n++) await queue.append(text(n));
      await until(() => seen.includes('warning'), 'the 80% warning');
      expect(seen).toEqual(['warning']);
      for (let n = 8; n < 15; n++) await queue.append(text(n));
      await until(() => seen.includes('full'), 'the full level');
      expect(numbers(queue)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
      expect(queue.stats()).toMatchObject({ queued: 10, bytes: 1_000, droppedOldest: 5, refused: 0, level: 'full' });
      queue.ack(queue.head + 5);
      await until(() => seen.at(-1) === 'ok', 'the ok level');
      expect(seen).toEqual(['warning', 'full', 'ok']);
    });

    it('refuse-new: refuses at maxBytes with PASARELA_STORE_FULL, keeps what it has, counts refusals', async () => {
      const queue = await maker.make({ maxBytes: 1_000, maxAgeMs: 1e9, whenFull: 'refuse-new' });
      const seen = levels(queue);
      for (let n = 0; n < 10; n++) await queue.append(text(n));
      await expect(queue.append(text(10))).rejects.toMatchObject({ code: ErrorCode.StoreFull, status: 500 });
      await expect(queue.append(text(11))).rejects.toMatchObject({ code: ErrorCode.StoreFull });
      expect(numbers(queue)).toEqual([...Array(10).keys()]);
      expect(queue.stats()).toMatchObject({ queued: 10, refused: 2, droppedOldest: 0, level: 'full' });
      await until(() => seen.includes('full'), 'the full level');
      expect(seen).toEqual(['warning', 'full']);
      queue.ack(queue.head + 4);
      await queue.append(text(12));
      expect(numbers(queue)).toEqual([5, 6, 7, 8, 9, 12]);
    });

    it('refuses a dispatch larger than the whole buffer, whatever the policy', async () => {
      const queue = await maker.make({ maxBytes: 150, maxAgeMs: 1e9, whenFull: 'drop-oldest' });
      await queue.append(text(1));
      await expect(queue.append(text(2, 200))).rejects.toMatchObject({ code: ErrorCode.StoreFull });
      expect(queue.stats()).toMatchObject({ queued: 1, refused: 1, droppedOldest: 0 });
    });

    it('maxAge: drop-oldest drops what is too old; refuse-new refuses new ones instead', async () => {
      const dropping = await maker.make({ maxBytes: 1e9, maxAgeMs: 150, whenFull: 'drop-oldest' });
      const refusing = await maker.make({ maxBytes: 1e9, maxAgeMs: 150, whenFull: 'refuse-new' });
      await dropping.append(text(1));
      await refusing.append(text(1));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await dropping.append(text(2));
      await until(() => dropping.stats().droppedExpired === 1, 'the old entry expired', 5_000);
      expect(numbers(dropping)).toEqual([2]);
      await expect(refusing.append(text(2))).rejects.toMatchObject({ code: ErrorCode.StoreFull });
      expect(numbers(refusing)).toEqual([1]);
      expect(refusing.stats()).toMatchObject({ refused: 1, droppedExpired: 0 });
    });
  });
}

/**
 * An outbox queue in memory: the same bounds and counters as the SQLite one, nothing
 * survives the process. The benchmark's ceiling, and a queue for engines that need no
 * durability.
 */
import { BoundedQueue, type EntrySize, type QueueBackend } from './bounded-queue.js';
import type { QueueBounds, StoredEntry } from './queue.js';

class MemoryBackend implements QueueBackend {
  private entries: StoredEntry[] = [];
  /** Index of the first live entry in `entries` (removed ones are compacted away now and then). */
  private first = 0;

  insert(entry: StoredEntry): Promise<void> {
    this.entries.push(entry);
    return Promise.resolve();
  }

  removeBefore(pos: number): void {
    while (this.first < this.entries.length && this.entries[this.first]!.pos < pos) this.first++;
    if (this.first > 1024 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
  }

  read(from: number, limit: number): StoredEntry[] {
    return this.slice(from, limit);
  }

  sizes(from: number, limit: number): EntrySize[] {
    return this.slice(from, limit);
  }

  bytesBetween(from: number, to: number): number {
    let bytes = 0;
    for (const entry of this.slice(from, to - from)) bytes += entry.bytes;
    return bytes;
  }

  private slice(from: number, limit: number): StoredEntry[] {
    const base = this.entries[this.first]?.pos;
    if (base === undefined || limit <= 0) return [];
    const start = this.first + Math.max(0, from - base);
    return this.entries.slice(start, start + limit);
  }
}

/** A queue in memory; `boot` stands in for the store's boot in its ids. */
export function memoryQueue(name: string, bounds: QueueBounds, boot = Date.now()): BoundedQueue {
  return new BoundedQueue(name, new MemoryBackend(), bounds, { boot });
}

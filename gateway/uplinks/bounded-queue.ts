/**
 * What every outbox queue does whatever keeps its entries: positions and ids, the
 * byte and age bounds with their policy, the counters and the fill level. The entries
 * themselves live in a backend (SQLite in outbox.ts, an array in memory-queue.ts).
 */
import { errors } from '../jstp/errors.js';
import { nextLevel, type FillLevel, type OutboxQueue, type QueueBounds, type QueueStats, type StoredEntry, type StoredId } from './queue.js';

/** Where an entry sits and what it weighs: what the bounds need to know of it. */
export interface EntrySize {
  readonly pos: number;
  readonly bytes: number;
  readonly at: number;
}

/** Keeps the entries of one queue. Positions arrive in order; removals are prefixes. */
export interface QueueBackend {
  /** Makes the entry durable; resolves once it is (and only then may `read` return it). */
  insert(entry: StoredEntry): Promise<void>;
  /** Forgets every entry before `pos`. */
  removeBefore(pos: number): void;
  /** Durable entries from `from` on, in order. */
  read(from: number, limit: number): StoredEntry[];
  /** Sizes of entries from `from` on, durable or not yet, in order. */
  sizes(from: number, limit: number): EntrySize[];
  /** Total bytes of the entries in [from, to). */
  bytesBetween(from: number, to: number): number;
}

/** A queue's state when it is opened (what the backend holds from before). */
export interface QueueStart {
  readonly head: number;
  readonly tail: number;
  readonly bytes: number;
  readonly oldestAt: number | undefined;
}

export const EMPTY_START: QueueStart = { head: 0, tail: 0, bytes: 0, oldestAt: undefined };

/** How often entries past maxAgeMs are looked for. */
const EXPIRE_EVERY_MS = 1_000;

export class BoundedQueue implements OutboxQueue {
  readonly name: string;
  private readonly backend: QueueBackend;
  private readonly bounds: QueueBounds;
  private readonly boot: number;
  private readonly now: () => number;
  private headPos: number;
  private tailPos: number;
  private bytes: number;
  private oldestAt: number | undefined;
  private seq = 0;
  private level: FillLevel = 'ok';
  private accepted = 0;
  private acknowledged = 0;
  private droppedOldest = 0;
  private droppedExpired = 0;
  private refused = 0;
  private readonly committedListeners = new Set<() => void>();
  private readonly appendedListeners = new Set<(entry: StoredEntry) => void>();
  private readonly levelListeners = new Set<(level: FillLevel, stats: QueueStats) => void>();
  private notifying = false;
  private readonly expireTimer: ReturnType<typeof setInterval> | undefined;

  constructor(name: string, backend: QueueBackend, bounds: QueueBounds, options: { boot: number; start?: QueueStart; now?: () => number }) {
    this.name = name;
    this.backend = backend;
    this.bounds = bounds;
    this.boot = options.boot;
    this.now = options.now ?? Date.now;
    const start = options.start ?? EMPTY_START;
    this.headPos = start.head;
    this.tailPos = start.tail;
    this.bytes = start.bytes;
    this.oldestAt = start.oldestAt;
    if (Number.isFinite(bounds.maxAgeMs)) {
      this.expireTimer = setInterval(() => this.expire(), Math.min(EXPIRE_EVERY_MS, bounds.maxAgeMs));
      this.expireTimer.unref();
    }
    this.updateLevel(false);
  }

  get head(): number {
    return this.headPos;
  }

  append(text: string): Promise<StoredId> {
    const bytes = Buffer.byteLength(text);
    const now = this.now();
    const { maxBytes, whenFull } = this.bounds;
    if (bytes > maxBytes) return this.refuse(`a dispatch of ${bytes} bytes is larger than the whole buffer (${maxBytes} bytes)`);
    if (whenFull === 'refuse-new') {
      if (this.bytes + bytes > maxBytes) return this.refuse(`buffer full (${this.bytes} of ${maxBytes} bytes)`);
      if (this.tooOld(now)) return this.refuse(`the oldest dispatch is older than ${this.bounds.maxAgeMs / 1000} s`);
    }
    const id: StoredId = { boot: this.boot, seq: ++this.seq };
    const entry: StoredEntry = { pos: this.tailPos++, boot: id.boot, seq: id.seq, at: now, bytes, text };
    this.bytes += bytes;
    this.oldestAt ??= now;
    const durable = this.backend.insert(entry).then(() => {
      this.accepted++;
      this.committed();
      return id;
    });
    let dropped = false;
    if (whenFull === 'drop-oldest') {
      if (this.bytes > maxBytes) dropped = this.dropWhile(() => (this.bytes > maxBytes ? 'oldest' : undefined));
      else if (this.tooOld(now)) this.expire();
    }
    this.updateLevel(dropped);
    for (const listener of this.appendedListeners) listener(entry);
    return durable;
  }

  read(from: number, limit: number): StoredEntry[] {
    return this.backend.read(Math.max(from, this.headPos), limit);
  }

  ack(through: number): number {
    if (through < this.headPos) return 0;
    const to = Math.min(through + 1, this.tailPos);
    const count = to - this.headPos;
    this.bytes -= this.backend.bytesBetween(this.headPos, to);
    this.acknowledged += count;
    this.moveHead(to);
    this.updateLevel(false);
    return count;
  }

  stats(): QueueStats {
    return {
      queued: this.tailPos - this.headPos,
      bytes: this.bytes,
      oldestAt: this.oldestAt,
      level: this.level,
      accepted: this.accepted,
      acknowledged: this.acknowledged,
      droppedOldest: this.droppedOldest,
      droppedExpired: this.droppedExpired,
      refused: this.refused,
    };
  }

  onCommitted(listener: () => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  onAppended(listener: (entry: StoredEntry) => void): () => void {
    this.appendedListeners.add(listener);
    return () => this.appendedListeners.delete(listener);
  }

  onLevel(listener: (level: FillLevel, stats: QueueStats) => void): () => void {
    this.levelListeners.add(listener);
    return () => this.levelListeners.delete(listener);
  }

  /** Stops the age checks. */
  stop(): void {
    if (this.expireTimer) clearInterval(this.expireTimer);
    this.committedListeners.clear();
    this.appendedListeners.clear();
    this.levelListeners.clear();
  }

  /** Drops what is older than maxAgeMs (drop-oldest); refuse-new keeps it and refuses instead. */
  expire(): void {
    const now = this.now();
    if (!this.tooOld(now)) return;
    if (this.bounds.whenFull === 'refuse-new') {
      this.updateLevel(false);
      return;
    }
    const cutoff = now - this.bounds.maxAgeMs;
    this.dropWhile((size) => (size.at < cutoff ? 'expired' : undefined));
    this.updateLevel(false);
  }

  private tooOld(now: number): boolean {
    return this.oldestAt !== undefined && now - this.oldestAt > this.bounds.maxAgeMs;
  }

  private refuse(reason: string): Promise<StoredId> {
    this.refused++;
    this.updateLevel(true);
    return Promise.reject(errors.storeFull(`uplink buffer ${this.name} refused a dispatch: ${reason}`));
  }

  /** Drops entries from the head while `why` names a reason; true if any went. */
  private dropWhile(why: (size: EntrySize) => 'oldest' | 'expired' | undefined): boolean {
    let head = this.headPos;
    for (;;) {
      const sizes = this.backend.sizes(head, 256);
      if (sizes.length === 0) break;
      let stopped = false;
      for (const size of sizes) {
        const reason = why(size);
        if (reason === undefined) {
          stopped = true;
          break;
        }
        this.bytes -= size.bytes;
        if (reason === 'oldest') this.droppedOldest++;
        else this.droppedExpired++;
        head = size.pos + 1;
      }
      if (stopped) break;
    }
    if (head === this.headPos) return false;
    this.moveHead(head);
    return true;
  }

  private moveHead(to: number): void {
    this.headPos = to;
    this.backend.removeBefore(to);
    this.oldestAt = to < this.tailPos ? this.backend.sizes(to, 1)[0]?.at : undefined;
  }

  private updateLevel(policyApplied: boolean): void {
    const blocked = this.bounds.whenFull === 'refuse-new' && this.tooOld(this.now());
    const next = nextLevel(this.level, { bytes: this.bytes, maxBytes: this.bounds.maxBytes, policyApplied, blocked });
    if (next === this.level) return;
    this.level = next;
    const stats = this.stats();
    // Later, not inside append(): a listener that emits a dispatch may come back here.
    queueMicrotask(() => {
      for (const listener of this.levelListeners) listener(next, stats);
    });
  }

  private committed(): void {
    if (this.notifying) return;
    this.notifying = true;
    queueMicrotask(() => {
      this.notifying = false;
      for (const listener of this.committedListeners) listener();
    });
  }
}

/**
 * The queue interface of the durable outbox: types and contracts only. An uplink
 * keeps its dispatches in one queue; the SQLite outbox (outbox.ts) implements it
 * durably, memory-queue.ts in memory (the ceiling the benchmark compares against).
 * The fleet's NATS link replays a queue too, with `idOf` as the NATS message id.
 */

export type WhenFull = 'drop-oldest' | 'refuse-new';

export interface QueueBounds {
  /** Bytes of queued dispatches (their JSON) at most. */
  readonly maxBytes: number;
  /** Age of the oldest queued dispatch at most, in ms. */
  readonly maxAgeMs: number;
  readonly whenFull: WhenFull;
}

/** Where an entry stands in its queue's stable id: the store's boot it was accepted in, and its sequence in that boot. */
export interface StoredId {
  readonly boot: number;
  readonly seq: number;
}

export interface StoredEntry extends StoredId {
  /** Position in the queue: grows by one per entry, never reused while the entry lives. */
  readonly pos: number;
  /** When it was accepted, ms since the epoch. */
  readonly at: number;
  readonly bytes: number;
  /** The dispatch as JSON, without token. */
  readonly text: string;
}

/** How full a queue is (see `nextLevel`). */
export type FillLevel = 'ok' | 'warning' | 'full';

export interface QueueStats {
  /** Entries accepted and not yet acknowledged or dropped. */
  readonly queued: number;
  readonly bytes: number;
  /** Accept time of the oldest queued entry; undefined when empty. */
  readonly oldestAt: number | undefined;
  readonly level: FillLevel;
  /** Counters since the queue was opened. */
  readonly accepted: number;
  readonly acknowledged: number;
  /** Dropped to make room (drop-oldest). */
  readonly droppedOldest: number;
  /** Dropped for age (drop-oldest, older than maxAgeMs). */
  readonly droppedExpired: number;
  /** Refused at the door (refuse-new, or a dispatch larger than maxBytes). */
  readonly refused: number;
}

/**
 * One queue with one cursor's worth of state: what was accepted, in order, until the
 * far end acknowledged it.
 *
 * Contract:
 * - `append` resolves with the entry's id once the entry is durable (for the SQLite
 *   store: once its transaction committed); only then is it accepted. It rejects with
 *   PASARELA_STORE_FULL when the bounds refuse it. Entries keep the order of the
 *   `append` calls.
 * - `read(from, limit)` returns accepted entries with `pos >= from`, in order, never
 *   one that is not yet durable.
 * - `ack(through)` forgets every entry up to and including `through` (cumulative);
 *   forgetting is itself durable soon after, and until then a crash brings them back
 *   (the receiver's dedup drops them).
 * - Bounds: with `drop-oldest` the oldest entries go when the bytes pass `maxBytes`
 *   or an entry grows older than `maxAgeMs`; with `refuse-new` new ones are refused
 *   while either limit is reached. Every drop and refusal is counted.
 */
export interface OutboxQueue {
  readonly name: string;
  /** The first live position (where a replay starts). */
  readonly head: number;
  append(text: string): Promise<StoredId>;
  read(from: number, limit: number): StoredEntry[];
  /** Returns how many entries it forgot. */
  ack(through: number): number;
  stats(): QueueStats;
  /**
   * Called at once for each entry appended, before it is durable (so before it is
   * accepted or readable): a live link may send it while its commit runs. Returns the
   * function that stops it.
   */
  onAppended(listener: (entry: StoredEntry) => void): () => void;
  /** Called after entries became readable (committed); returns the function that stops it. */
  onCommitted(listener: () => void): () => void;
  /** Called when the fill level changes. */
  onLevel(listener: (level: FillLevel, stats: QueueStats) => void): () => void;
}

/**
 * The next fill level: `full` while the policy applies (it dropped or refused, or
 * refuse-new would refuse for age), `warning` from 80% of maxBytes, `ok` again below
 * 70% (the gap keeps a queue near a threshold from flapping).
 */
export function nextLevel(previous: FillLevel, state: { bytes: number; maxBytes: number; policyApplied: boolean; blocked: boolean }): FillLevel {
  if (state.policyApplied || state.blocked) return 'full';
  if (state.bytes < state.maxBytes * 0.7) return 'ok';
  if (state.bytes >= state.maxBytes * 0.8 && previous === 'ok') return 'warning';
  return previous;
}

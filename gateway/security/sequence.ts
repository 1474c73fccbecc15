/**
 * A signer's sequence numbers (docs/spec/security.md, "Sequence numbers"): strictly
 * increasing, taken from a store in ranges that no other user of the same identity
 * gets, and skipped ahead by a whole replay block on each new connection, so a
 * verifier that restarted (and restored only its ceiling) accepts the first
 * dispatch. Reusing a number is never a forgery risk, only a refusal (401 replay).
 * Browser-safe.
 */
import { MAX_SEQUENCE } from './dispatch-signature.js';
import { RANGE_SIZE, REPLAY_BLOCK } from './replay.js';

/** A sender reserves whole ranges, so each range has one sender (see RANGE_SIZE). */
export const SEQUENCE_BLOCK = RANGE_SIZE;

export interface SequenceStore {
  /**
   * Reserves `count` numbers for this user alone and returns the first; every later
   * reservation, by anyone, starts after them. Throws when it cannot persist that.
   */
  reserve(count: number): number;
}

export function memorySequenceStore(start = 0): SequenceStore & { next: number } {
  const store = {
    next: start,
    reserve(count: number) {
      const first = store.next;
      store.next += count;
      return first;
    },
  };
  return store;
}

export class SequenceCounter {
  private nextNumber = 0;
  private end = 0;

  constructor(private readonly store: SequenceStore) {}

  /** The next number to sign with. */
  next(): number {
    if (this.nextNumber >= this.end) this.refill();
    const value = this.nextNumber++;
    if (value > MAX_SEQUENCE) throw new RangeError('this identity has used every sequence number: make a new one');
    return value;
  }

  /** A new connection: jump past any ceiling a restarted verifier may have restored. */
  skipBlock(): void {
    // A fresh range starts past every number used so far, which is a skip too.
    if (this.end - this.nextNumber <= REPLAY_BLOCK + 1) this.refill();
    else this.nextNumber += REPLAY_BLOCK + 1;
  }

  /**
   * A verifier refused a number as a replay: another sender with this identity, or a
   * restart, is ahead. A fresh range starts above every number reserved so far.
   */
  jump(): void {
    this.refill();
  }

  private refill(): void {
    const first = this.store.reserve(SEQUENCE_BLOCK);
    if (first % SEQUENCE_BLOCK !== 0) throw new RangeError(`sequence ranges start at multiples of ${SEQUENCE_BLOCK}, got ${first}`);
    // The skip a restarted verifier needs comes with every fresh range.
    this.nextNumber = first + REPLAY_BLOCK + 1;
    this.end = first + SEQUENCE_BLOCK;
  }
}

/**
 * Replay protection at a verifier (docs/spec/security.md, "Replay"): per signer a
 * window of the last 64 sequence numbers (RFC 8613 §7.4's sliding window) in each
 * of its recent ranges (one range per sender using the identity), and a
 * ceiling persisted in blocks as OSCORE Appendix B.1.1 does for its counter, so a
 * restart after kill -9 accepts nothing it may have accepted before, without one
 * write per dispatch. A signer seen for the first time must be within ±5 minutes of
 * this clock. Browser-safe: persistence is the store's.
 */

export const WINDOW_SIZE = 64;
/** How far the persisted ceiling runs ahead of the highest accepted number. */
export const REPLAY_BLOCK = 256;
/**
 * Signers reserve their numbers in ranges of this size (sequence.ts), one range per
 * sender, so two senders with one identity (two tabs, two commands) never share a
 * range. A verifier keeps a window per range: a sender's numbers rise within its
 * range, whatever the other senders do.
 */
export const RANGE_SIZE = 4096;
/** Ranges of one signer tracked at once; a number in an older range is too old. */
export const MAX_RANGES = 8;
export const FIRST_CONTACT_SKEW_MS = 5 * 60 * 1000;

const ALL = (1n << BigInt(WINDOW_SIZE)) - 1n;

/** The highest number accepted and a bit for each of the 64 up to it (bit 0: the highest). */
export class ReplayWindow {
  constructor(private highest = -1, private seen = 0n) {}

  /** A window that refuses every number up to `ceiling`: what a restart restores. */
  static restored(ceiling: number): ReplayWindow {
    return new ReplayWindow(ceiling, ALL);
  }

  get top(): number {
    return this.highest;
  }

  /** True when `sequence` was not accepted and is not too old to tell. */
  fresh(sequence: number): boolean {
    if (sequence > this.highest) return true;
    const back = this.highest - sequence;
    if (back >= WINDOW_SIZE) return false;
    return ((this.seen >> BigInt(back)) & 1n) === 0n;
  }

  /** Marks `sequence` accepted (call `fresh` first). */
  accept(sequence: number): void {
    if (sequence > this.highest) {
      const shift = sequence - this.highest;
      this.seen = shift >= WINDOW_SIZE ? 1n : ((this.seen << BigInt(shift)) | 1n) & ALL;
      this.highest = sequence;
    } else {
      this.seen |= 1n << BigInt(this.highest - sequence);
    }
  }
}

/** Where the ceilings live: a file on a gateway, memory in a browser or a test. */
export interface ReplayStore {
  /** The ceilings persisted before this start, by signer key (base64url). */
  loadCeilings(): ReadonlyMap<string, number>;
  /**
   * Persists the ceilings (all of them: `ceilings` is the live map). Resolves once
   * they are durable; calls made while a write runs are folded into the next one.
   */
  saveCeilings(ceilings: ReadonlyMap<string, number>): Promise<void>;
}

export function memoryReplayStore(initial: ReadonlyMap<string, number> = new Map()): ReplayStore & { saved: number; ceilings: Map<string, number> } {
  const store = {
    saved: 0,
    ceilings: new Map(initial),
    loadCeilings: () => new Map(store.ceilings),
    saveCeilings(ceilings: ReadonlyMap<string, number>) {
      store.saved++;
      store.ceilings = new Map(ceilings);
      return Promise.resolve();
    },
  };
  return store;
}

/** One signer: a window per recent range, and a floor below which nothing is accepted. */
class SignerWindows {
  private readonly ranges = new Map<number, ReplayWindow>();
  /** Ranges below this were dropped for newer ones: their numbers are too old. */
  private oldestRange = 0;

  /** `floor`: every number up to it is refused (what a restart restores); -1 for none. */
  constructor(private floor = -1) {}

  /** The highest number accepted (or restored), for messages. */
  get top(): number {
    let top = this.floor;
    for (const window of this.ranges.values()) top = Math.max(top, window.top);
    return top;
  }

  fresh(sequence: number): boolean {
    if (sequence <= this.floor) return false;
    const range = Math.floor(sequence / RANGE_SIZE);
    if (range < this.oldestRange) return false;
    const window = this.ranges.get(range);
    if (window) return window.fresh(sequence);
    // A new range: taken, unless the set is full and it is older than every range kept.
    return this.ranges.size < MAX_RANGES || range > Math.min(...this.ranges.keys());
  }

  accept(sequence: number): void {
    const range = Math.floor(sequence / RANGE_SIZE);
    let window = this.ranges.get(range);
    if (!window) {
      window = new ReplayWindow();
      this.ranges.set(range, window);
      if (this.ranges.size > MAX_RANGES) {
        const oldest = Math.min(...this.ranges.keys());
        this.ranges.delete(oldest);
        this.oldestRange = Math.max(this.oldestRange, oldest + 1);
      }
    }
    window.accept(sequence);
  }
}

interface SignerState {
  readonly windows: SignerWindows;
  /** Durable: nothing above it was accepted. */
  persisted: number;
}

export type ReplayCheck = { ok: true; firstContact: boolean } | { ok: false; code: 'replay' | 'clock'; reason: string };

export class ReplayGuard {
  private readonly signers = new Map<string, SignerState>();
  /** What the store should hold; ahead of what it durably holds while a write runs. */
  private readonly ceilings: Map<string, number>;
  private writes = 0;

  constructor(private readonly store: ReplayStore, private readonly now: () => number = Date.now, private readonly block = REPLAY_BLOCK) {
    this.ceilings = new Map(store.loadCeilings());
    for (const [signer, ceiling] of this.ceilings) this.signers.set(signer, { windows: new SignerWindows(ceiling), persisted: ceiling });
  }

  /** Ceiling writes asked of the store so far (one per block, not per dispatch). */
  get writeCount(): number {
    return this.writes;
  }

  get signerCount(): number {
    return this.signers.size;
  }

  /** Whether a verified dispatch of `signer` may be accepted; changes nothing. */
  check(signer: string, sequence: number, timestamp: number): ReplayCheck {
    const state = this.signers.get(signer);
    if (!state) {
      const skew = timestamp - this.now();
      if (!(Math.abs(skew) <= FIRST_CONTACT_SKEW_MS)) {
        return { ok: false, code: 'clock', reason: `first dispatch of this signer is ${Math.round(skew / 1000)} s off this gateway's clock (at most ±${FIRST_CONTACT_SKEW_MS / 60_000} min)` };
      }
      return { ok: true, firstContact: true };
    }
    if (!state.windows.fresh(sequence)) return { ok: false, code: 'replay', reason: `sequence ${sequence} was seen before or is too old (highest ${state.windows.top})` };
    return { ok: true, firstContact: false };
  }

  /**
   * Accepts `sequence` (checked by `check` in the same task). Returns undefined when
   * it may be acted on now, or a promise that resolves once a ceiling above it is
   * durable. A write starts when the number passes half of the block still ahead.
   */
  accept(signer: string, sequence: number): Promise<void> | undefined {
    let state = this.signers.get(signer);
    if (!state) {
      state = { windows: new SignerWindows(), persisted: -1 };
      this.signers.set(signer, state);
    }
    state.windows.accept(sequence);
    const ceiling = this.ceilings.get(signer) ?? -1;
    if (sequence <= ceiling - this.block / 2) return undefined;
    const wanted = sequence + this.block;
    this.ceilings.set(signer, wanted);
    this.writes++;
    const written = this.store.saveCeilings(this.ceilings).then(() => {
      if (state.persisted < wanted) state.persisted = wanted;
    });
    return sequence <= state.persisted ? undefined : written;
  }
}

/**
 * A noisy line: drops or corrupts bytes with given probabilities, from a seeded
 * generator so that a failing test can be replayed.
 */

export interface NoiseOptions {
  /** Probability that a byte is lost, 0..1. */
  drop?: number;
  /** Probability that a byte has one bit flipped, 0..1. */
  corrupt?: number;
  /** Seed of the generator (default 1). */
  seed?: number;
}

export interface NoiseCounters {
  bytes: number;
  dropped: number;
  corrupted: number;
}

export class Noise {
  private state: number;
  private readonly drop: number;
  private readonly corrupt: number;
  readonly counters: NoiseCounters = { bytes: 0, dropped: 0, corrupted: 0 };

  constructor(options: NoiseOptions) {
    this.drop = options.drop ?? 0;
    this.corrupt = options.corrupt ?? 0;
    for (const [name, p] of [['drop', this.drop], ['corrupt', this.corrupt]] as const) {
      if (!(p >= 0 && p <= 1)) throw new RangeError(`noise ${name} must be a probability from 0 to 1, got ${p}`);
    }
    this.state = (options.seed ?? 1) >>> 0;
  }

  /** The bytes as the other end receives them. */
  apply(bytes: Uint8Array): Uint8Array {
    const out = new Uint8Array(bytes.length);
    let n = 0;
    for (const byte of bytes) {
      this.counters.bytes++;
      if (this.random() < this.drop) {
        this.counters.dropped++;
        continue;
      }
      if (this.random() < this.corrupt) {
        this.counters.corrupted++;
        out[n++] = byte ^ (1 << Math.floor(this.random() * 8));
        continue;
      }
      out[n++] = byte;
    }
    return out.subarray(0, n);
  }

  /** mulberry32: small, fast, and good enough to scatter errors. */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

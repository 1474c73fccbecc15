/**
 * Simulated time for firmware: delays are written in the device's own milliseconds
 * and run `speed` times faster in real time, so tests can brew a coffee in a blink.
 * Every timer it starts, `stop()` clears.
 */
export class SimClock {
  readonly speed: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(speed = 1) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`);
    this.speed = speed;
  }

  /** Runs `fn` after `ms` simulated milliseconds; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void {
    if (this.stopped) return () => {};
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms / this.speed);
    this.timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }

  /** Timers still waiting (for tests that check nothing is left behind). */
  get pending(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

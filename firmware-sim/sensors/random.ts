/**
 * A seeded random source (mulberry32), so a simulator with a seed produces the same
 * readings on every run, and a Gaussian for noise.
 */
export class Random {
  private state: number;

  constructor(seed = 1) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Normal with mean 0 and standard deviation `sigma` (Box-Muller). */
  gaussian(sigma = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/**
 * One step of an Ornstein-Uhlenbeck process: drifts back toward `mean` at `rate`
 * per hour, with `volatility` per √hour. Gives slow, realistic wandering.
 */
export function drift(value: number, mean: number, hours: number, rate: number, volatility: number, random: Random): number {
  return value + rate * (mean - value) * hours + volatility * Math.sqrt(hours) * random.gaussian();
}

export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/**
 * From measured parts to a level (`ok`, `warn`, `critical`) with hysteresis: each
 * resource enters `warn` and `critical` at its own thresholds and clears below a
 * lower one; a change needs `sustain` samples in a row that call for it, and two
 * changes are at least `windowMs` apart. Pure: samples and times in, changes out.
 */
import { levelRank, LEVELS, RESOURCES, type Level, type Resource, type SaturationReport } from './report.js';

export interface Thresholds {
  /** Enter `warn` at or above this. */
  warn: number;
  /** Enter `critical` at or above this. */
  critical: number;
  /** Back to `ok` only below this (and from `critical` to `warn` below `warn`). */
  clear: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = { warn: 0.85, critical: 0.95, clear: 0.7 };

export interface LevelOptions {
  /** The resources that count, each with its thresholds. */
  thresholds: Partial<Record<Resource, Thresholds>>;
  /** Samples in a row that must call for a change (default 3). */
  sustain?: number;
  /** At least this long between two changes, in ms (default 10 000). */
  windowMs?: number;
}

/**
 * The level one part calls for from the current one. The band between `clear` and
 * `warn` keeps `warn`, the band between `warn` and `critical` keeps `critical`, so a
 * value hovering at a threshold does not flap.
 */
export function partLevel(current: Level, value: number, thresholds: Thresholds): Level {
  if (value >= thresholds.critical) return 'critical';
  if (current === 'critical' && value >= thresholds.warn) return 'critical';
  if (current !== 'ok' && value >= thresholds.clear) return 'warn';
  if (value >= thresholds.warn) return 'warn';
  return 'ok';
}

export class LevelTracker {
  private current: Level = 'ok';
  private readonly thresholds: Partial<Record<Resource, Thresholds>>;
  private readonly sustain: number;
  private readonly windowMs: number;
  /** The levels the latest samples called for, while they all point the same way. */
  private streak: Level[] = [];
  private lastChangeAt = Number.NEGATIVE_INFINITY;

  constructor(options: LevelOptions) {
    this.thresholds = options.thresholds;
    this.sustain = Math.max(1, options.sustain ?? 3);
    this.windowMs = Math.max(0, options.windowMs ?? 10_000);
  }

  get level(): Level {
    return this.current;
  }

  /** The level these parts call for right now, before hysteresis over time. */
  target(parts: SaturationReport['parts']): Level {
    let target: Level = 'ok';
    for (const resource of RESOURCES) {
      const thresholds = this.thresholds[resource];
      const value = parts[resource];
      if (!thresholds || typeof value !== 'number') continue;
      const level = partLevel(this.current, value, thresholds);
      if (levelRank(level) > levelRank(target)) target = level;
    }
    return target;
  }

  /** Takes one sample; returns the change it makes, if any. */
  observe(parts: SaturationReport['parts'], now: number): { from: Level; to: Level } | undefined {
    const target = this.target(parts);
    const rank = levelRank(this.current);
    const up = levelRank(target) > rank;
    if (target === this.current) {
      this.streak = [];
      return undefined;
    }
    const first = this.streak[0];
    // A sample that points the other way starts a new streak.
    if (first !== undefined && levelRank(first) > rank !== up) this.streak = [];
    this.streak.push(target);
    if (this.streak.length > this.sustain) this.streak.shift();
    if (this.streak.length < this.sustain || now - this.lastChangeAt < this.windowMs) return undefined;
    // The level every sample of the streak called for: the least of them going up, the most going down.
    const ranks = this.streak.map(levelRank);
    const to = LEVELS[up ? Math.min(...ranks) : Math.max(...ranks)]!;
    const from = this.current;
    this.current = to;
    this.lastChangeAt = now;
    this.streak = [];
    return { from, to };
  }
}

/**
 * Levels with hysteresis: enter at warn/critical, clear below the lower threshold,
 * only after `sustain` samples in a row, at most one change per window.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, LevelTracker, partLevel } from '../../gateway/saturation/levels.js';
import { levelRank, type Level } from '../../gateway/saturation/report.js';

const T = DEFAULT_THRESHOLDS;

function tracker(sustain = 2, windowMs = 0) {
  return new LevelTracker({ thresholds: { disk: T, cpu: { warn: 0.5, critical: 0.6, clear: 0.4 } }, sustain, windowMs });
}

describe('saturation levels', () => {
  it('keeps a band around each threshold so a value hovering there does not flap', () => {
    expect(partLevel('ok', 0.84, T)).toBe('ok');
    expect(partLevel('ok', 0.85, T)).toBe('warn');
    expect(partLevel('ok', 0.95, T)).toBe('critical');
    expect(partLevel('warn', 0.71, T)).toBe('warn');
    expect(partLevel('warn', 0.69, T)).toBe('ok');
    expect(partLevel('critical', 0.9, T)).toBe('critical');
    expect(partLevel('critical', 0.8, T)).toBe('warn');
    expect(partLevel('critical', 0.5, T)).toBe('ok');
  });

  it('changes only after `sustain` samples in a row call for it', () => {
    const levels = tracker(3);
    expect(levels.observe({ disk: 0.97 }, 0)).toBeUndefined();
    expect(levels.observe({ disk: 0.97 }, 1)).toBeUndefined();
    expect(levels.observe({ disk: 0.97 }, 2)).toEqual({ from: 'ok', to: 'critical' });
    expect(levels.level).toBe('critical');
    // A dip of one sample does not clear it.
    expect(levels.observe({ disk: 0.1 }, 3)).toBeUndefined();
    expect(levels.observe({ disk: 0.97 }, 4)).toBeUndefined();
    expect(levels.level).toBe('critical');
  });

  it('goes up to what every sample of the streak called for, and down as little as they allow', () => {
    const levels = tracker(2);
    levels.observe({ disk: 0.9 }, 0);
    expect(levels.observe({ disk: 0.99 }, 1)).toEqual({ from: 'ok', to: 'warn' });
    levels.observe({ disk: 0.99 }, 2);
    expect(levels.observe({ disk: 0.99 }, 3)).toEqual({ from: 'warn', to: 'critical' });
    levels.observe({ disk: 0.1 }, 4);
    expect(levels.observe({ disk: 0.8 }, 5)).toEqual({ from: 'critical', to: 'warn' });
  });

  it('takes the worst resource, each with its own thresholds; unmeasured and uncounted parts do not count', () => {
    const levels = tracker(1);
    expect(levels.observe({ disk: 0.2, cpu: 0.65 }, 0)).toEqual({ from: 'ok', to: 'critical' });
    expect(levels.observe({ disk: 0.2, cpu: 'unavailable' }, 1)).toEqual({ from: 'critical', to: 'ok' });
    expect(levels.observe({ memory: 0.99 }, 2)).toBeUndefined();
  });

  it('makes at most one change per window', () => {
    const levels = tracker(1, 1_000);
    expect(levels.observe({ disk: 0.99 }, 0)).toEqual({ from: 'ok', to: 'critical' });
    expect(levels.observe({ disk: 0.1 }, 500)).toBeUndefined();
    expect(levels.observe({ disk: 0.1 }, 999)).toBeUndefined();
    expect(levels.observe({ disk: 0.1 }, 1_000)).toEqual({ from: 'critical', to: 'ok' });
  });

  it('never changes faster than the window, nor without a sustained streak (any samples)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 20 })), { maxLength: 80 }),
        (sustain, windowMs, samples) => {
          const levels = tracker(sustain, windowMs);
          let now = 0;
          let lastChange = Number.NEGATIVE_INFINITY;
          const targets: Level[] = [];
          for (const [value, step] of samples) {
            now += step;
            const before = levels.level;
            const target = levels.target({ disk: value });
            targets.push(target);
            const change = levels.observe({ disk: value }, now);
            if (!change) continue;
            expect(change.from).toBe(before);
            expect(now - lastChange).toBeGreaterThanOrEqual(windowMs);
            // The last `sustain` samples all pointed the way it went.
            const recent = targets.slice(-sustain);
            expect(recent).toHaveLength(sustain);
            const up = levelRank(change.to) > levelRank(before);
            for (const level of recent) expect(up ? levelRank(level) >= levelRank(change.to) : levelRank(level) <= levelRank(change.to)).toBe(true);
            lastChange = now;
            targets.length = 0;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * Pattern languages (gateway/security/patterns.ts) against brute force: over a small
 * alphabet, `intersects` and `includes` agree with matching every resource up to a
 * length that any counterexample fits in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../gateway/jstp/endpoint.js';
import { includes, intersects } from '../../gateway/security/patterns.js';

const ELEMENTS = ['a', 'b', '*', '...', ':x'] as const;
/** 'z' stands for any element no pattern names. */
const ALPHABET = ['a', 'b', 'z'];

function normalize(pattern: string[]): string[] {
  // `...` twice in a row, or `*` right after `...`, are not normalized patterns; each capture needs its own name.
  const out: string[] = [];
  let captures = 0;
  for (const element of pattern) {
    const last = out[out.length - 1];
    if (last === '...' && (element === '...' || element === '*')) continue;
    out.push(element === ':x' ? `:x${++captures}` : element);
  }
  return out;
}

const pattern = fc.array(fc.constantFrom(...ELEMENTS), { minLength: 1, maxLength: 5 }).map(normalize);

function resources(maxLength: number): string[][] {
  const out: string[][] = [];
  const walk = (prefix: string[]): void => {
    if (prefix.length > 0) out.push(prefix);
    if (prefix.length === maxLength) return;
    for (const symbol of ALPHABET) walk([...prefix, symbol]);
  };
  walk([]);
  return out;
}

const ALL = resources(7);

describe('pattern languages', () => {
  it('intersects: some resource matches both, exactly when brute force finds one', () => {
    fc.assert(
      fc.property(pattern, pattern, (p, q) => {
        const mp = compilePattern(p);
        const mq = compilePattern(q);
        const brute = ALL.some((r) => mp.match(r) !== null && mq.match(r) !== null);
        expect(intersects(p, q)).toBe(brute);
      }),
      { numRuns: 1500 },
    );
  });

  it('includes: every resource the inner matches, the outer matches, exactly as brute force says', () => {
    fc.assert(
      fc.property(pattern, pattern, (outer, inner) => {
        const mo = compilePattern(outer);
        const mi = compilePattern(inner);
        const brute = ALL.every((r) => mi.match(r) === null || mo.match(r) !== null);
        expect(includes(outer, inner)).toBe(brute);
      }),
      { numRuns: 1500 },
    );
  });

  it.each<[string[], string[], boolean]>([
    [['devices', '...'], ['devices', 'coffee', '...'], true],
    [['devices', 'coffee', '...'], ['devices', '...'], false],
    [['devices', '*', 'events', '...'], ['devices', 'coffee', 'events', 'ready'], true],
    [['devices', '...'], ['devices'], true],
    [['devices', '*'], ['devices'], false],
    [['*', '...'], ['...', '*'], true],
    [['...', 'x'], ['x', '...'], false],
    [['devices', ':id'], ['devices', '*'], true],
    [['a', '\\*'], ['a', '*'], false],
    [['a', '*'], ['a', '\\*'], true],
  ])('includes(%j, %j) is %s', (outer, inner, expected) => {
    expect(includes(outer, inner)).toBe(expected);
  });

  it('never claims inclusion for a pattern too long to decide, and intersects long patterns fast', () => {
    const long = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? '...' : `e${i}`));
    expect(includes(long, long)).toBe(false);
    const bind = ['...', ...Array.from({ length: 5000 }, () => 'a'), 'b'];
    expect(intersects(['devices', '...'], bind)).toBe(true);
    expect(intersects(['devices', '...', 'c'], bind)).toBe(false);
    expect(intersects(['devices', '*'], ['gateway', ...bind.slice(1)])).toBe(false);
  });
});

/**
 * Property tests: the compiled matcher and the indexed table agree with a plain
 * recursive matcher written here from JSTP.md, on random patterns and resources drawn
 * from a small alphabet so that matches are frequent.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePattern, normalizePattern, type CompiledPattern } from '../../gateway/jstp/endpoint.js';
import { SubscriptionTable } from '../../gateway/jstp/table.js';
import type { EndpointMethod, Method, ResourceElement } from '../../gateway/jstp/dispatch.js';

type Captures = Record<string, ResourceElement>;

/**
 * The spec read literally: try every length for `...`, shortest first, and return the
 * captures of the first complete match. Exponential, fine for tiny inputs.
 */
function reference(pattern: readonly string[], resource: readonly ResourceElement[]): Captures | null {
  function from(p: number, r: number, captures: Captures): Captures | null {
    if (p === pattern.length) return r === resource.length ? captures : null;
    const element = pattern[p]!;
    if (element === '...') {
      for (let take = 0; r + take <= resource.length; take++) {
        const found = from(p + 1, r + take, { ...captures });
        if (found) return found;
      }
      return null;
    }
    if (r === resource.length) return null;
    if (element === '*') return from(p + 1, r + 1, captures);
    if (element.startsWith(':')) return from(p + 1, r + 1, { ...captures, [element.slice(1)]: resource[r]! });
    const literal = element.startsWith('\\') ? element.slice(1) : element;
    return String(resource[r]) === literal ? from(p + 1, r + 1, captures) : null;
  }
  return from(0, 0, {});
}

const rawElement = fc.constantFrom<unknown>(
  'a', 'b', '1', 1, 2, '*', '*', '...', '...', '...', ':x', ':y', ':z', ':', ':9', '\\*', '\\...', '\\:x', '\\a', '\\\\a',
);
const rawPattern = fc.array(rawElement, { minLength: 0, maxLength: 7 });
const resourceElement = fc.constantFrom<ResourceElement>('a', 'b', 'a', 'b', 1, '1', 2, '*', '...', ':x', '\\a', 'c');
const resource = fc.array(resourceElement, { minLength: 0, maxLength: 8 });

/** Random input made legal by quirks mode, as an engine in quirks mode would see it. */
const pattern = rawPattern.map((raw) => {
  const normalized = normalizePattern(raw, 'quirks');
  if (!normalized.ok) throw new Error(normalized.reason);
  return normalized.pattern;
});

const endpointMethod = fc.constantFrom<EndpointMethod>('GET', 'PUT', '*');
const dispatchMethod = fc.constantFrom<Method>('GET', 'PUT', 'POST');

function methodMatches(endpoint: EndpointMethod, method: Method): boolean {
  return endpoint === '*' || endpoint === method;
}

describe('compiled match agrees with the reference matcher', () => {
  it('on match/no-match and captures', () => {
    fc.assert(
      fc.property(pattern, resource, (source, elements) => {
        const compiled = compilePattern(source);
        const expected = reference(source, elements);
        const actual = compiled.match(elements);
        if (expected === null) expect(actual).toBeNull();
        else expect({ ...actual }).toEqual(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it('finds enough matches for the comparison to mean something', () => {
    let hits = 0;
    let withCaptures = 0;
    fc.assert(
      fc.property(pattern, resource, (source, elements) => {
        const result = compilePattern(source).match(elements);
        if (result) hits++;
        if (result && Object.keys(result).length > 0) withCaptures++;
      }),
      { numRuns: 2000, seed: 7 },
    );
    expect(hits).toBeGreaterThan(200);
    expect(withCaptures).toBeGreaterThan(50);
  });
});

/**
 * Long segments between `...` and long resources: past a few hundred comparisons a
 * middle segment is found with the bit-parallel search, and past 31 steps with
 * several words. The reference stays affordable with at most three `...`.
 */
const longStep = fc.constantFrom('a', 'a', 'a', 'a', 'b', '*', '1');
const longSegment = (maxLength: number) => fc.array(longStep, { minLength: 1, maxLength, size: 'max' });
const longPattern = (maxSegment: number) =>
  fc.tuple(fc.boolean(), fc.array(longSegment(maxSegment), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([lead, segments, trail]) => {
    const elements: string[] = lead ? ['...'] : [];
    segments.forEach((segment, index) => {
      if (index > 0) elements.push('...');
      elements.push(...segment);
    });
    if (trail) elements.push('...');
    // Numbered captures keep every name unique.
    let captures = 0;
    const raw = elements.map((element, index) => (element === '*' && index % 3 === 0 ? `:c${captures++}` : element));
    // `*` right after `...` is illegal; quirks mode reads it as `...`.
    const normalized = normalizePattern(raw, 'quirks');
    if (!normalized.ok) throw new Error(normalized.reason);
    return normalized.pattern;
  });
const fillers: ResourceElement[] = ['a', 'a', 'a', 'b', 1];

/** A resource built from the pattern (so matches are frequent), with an occasional wrong element. */
function instantiate(source: readonly string[], seed: number, maxGap: number): ResourceElement[] {
  let state = seed >>> 0 || 1;
  const next = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const out: ResourceElement[] = [];
  for (const element of source) {
    if (element === '...') {
      for (let gap = next(maxGap + 1); gap > 0; gap--) out.push(fillers[next(fillers.length)]!);
    } else if (next(40) === 0) {
      out.push(fillers[next(fillers.length)]!);
    } else {
      out.push(element === '*' || element.startsWith(':') ? fillers[next(fillers.length)]! : element === '1' && next(2) === 0 ? 1 : element);
    }
  }
  return out;
}

describe('long segments and resources', () => {
  for (const [name, maxSegment, maxGap] of [['one word', 20, 25], ['several words', 45, 30]] as const) {
    it(`agree with the reference (${name})`, () => {
      let hits = 0;
      fc.assert(
        fc.property(longPattern(maxSegment), fc.integer(), (source, seed) => {
          const elements = instantiate(source, seed, maxGap);
          const expected = reference(source, elements);
          if (expected !== null) hits++;
          const actual = compilePattern(source).match(elements);
          if (expected === null) expect(actual).toBeNull();
          else expect({ ...actual }).toEqual(expected);
          const table = new SubscriptionTable<object>();
          table.add('GET', compilePattern(source), {});
          expect(table.match('GET', elements)).toHaveLength(expected === null ? 0 : 1);
        }),
        { numRuns: 400, seed: 20 },
      );
      expect(hits).toBeGreaterThan(100);
    });
  }
});

describe('normalizePattern', () => {
  it('quirks output is strict-valid and normalizes to itself', () => {
    fc.assert(
      fc.property(rawPattern, (raw) => {
        const quirks = normalizePattern(raw, 'quirks');
        expect(quirks.ok).toBe(true);
        if (!quirks.ok) return;
        expect(normalizePattern(quirks.pattern, 'strict')).toEqual({ ok: true, pattern: quirks.pattern, repaired: false });
        const strict = normalizePattern(raw, 'strict');
        // Strict accepts exactly what quirks need not repair, with the same result.
        if (strict.ok) expect(strict.pattern).toEqual(quirks.pattern);
        expect(strict.ok).toBe(!quirks.repaired);
      }),
      { numRuns: 3000 },
    );
  });

  it('equal keys exactly when the normalized patterns are equal', () => {
    fc.assert(
      fc.property(pattern, pattern, (left, right) => {
        const same = JSON.stringify(left) === JSON.stringify(right);
        expect(compilePattern(left).key === compilePattern(right).key).toBe(same);
      }),
      { numRuns: 2000 },
    );
  });
});

type Operation =
  | { op: 'add'; method: EndpointMethod; pattern: string[]; subscriber: number }
  | { op: 'remove'; method: EndpointMethod; pattern: string[]; subscriber: number }
  | { op: 'removeSubscriber'; subscriber: number }
  | { op: 'match'; method: Method; resource: ResourceElement[] };

const subscriberIndex = fc.integer({ min: 0, max: 3 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), method: endpointMethod, pattern, subscriber: subscriberIndex }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), method: endpointMethod, pattern, subscriber: subscriberIndex }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeSubscriber' as const), subscriber: subscriberIndex }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('match' as const), method: dispatchMethod, resource }) },
);

interface ModelEntry {
  id: number;
  method: EndpointMethod;
  pattern: string[];
  key: string;
  subscriber: number;
}

describe('SubscriptionTable agrees with a linear scan using the reference matcher', () => {
  it('over random add / remove / removeSubscriber / match sequences', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 60 }), (operations) => {
        const subscribers = [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }];
        const table = new SubscriptionTable<{ n: number }>();
        let model: ModelEntry[] = [];
        const compiled = new Map<string, CompiledPattern>();
        const compile = (source: string[]): CompiledPattern => {
          const key = JSON.stringify(source);
          let found = compiled.get(key);
          if (!found) compiled.set(key, (found = compilePattern(source)));
          return found;
        };

        for (const step of operations) {
          if (step.op === 'add') {
            const key = JSON.stringify(step.pattern);
            const existing = model.find((e) => e.subscriber === step.subscriber && e.method === step.method && e.key === key);
            const result = table.add(step.method, compilePattern(step.pattern), subscribers[step.subscriber]!);
            expect(result.added).toBe(existing === undefined);
            if (existing) expect(result.subscription.id).toBe(existing.id);
            else model.push({ id: result.subscription.id, method: step.method, pattern: step.pattern, key, subscriber: step.subscriber });
          } else if (step.op === 'remove') {
            const key = JSON.stringify(step.pattern);
            const before = model.length;
            model = model.filter((e) => !(e.subscriber === step.subscriber && e.method === step.method && e.key === key));
            expect(table.remove(step.method, compile(step.pattern), subscribers[step.subscriber]!)).toBe(model.length < before);
          } else if (step.op === 'removeSubscriber') {
            const before = model.length;
            model = model.filter((e) => e.subscriber !== step.subscriber);
            expect(table.removeSubscriber(subscribers[step.subscriber]!)).toBe(before - model.length);
          } else {
            const expected = model
              .filter((e) => methodMatches(e.method, step.method) && reference(e.pattern, step.resource) !== null)
              .map((e) => e.id);
            expect(table.match(step.method, step.resource).map((s) => s.id)).toEqual(expected);
          }
          expect(table.size).toBe(model.length);
          for (let n = 0; n < subscribers.length; n++) {
            expect(table.countFor(subscribers[n]!)).toBe(model.filter((e) => e.subscriber === n).length);
          }
        }

        for (const subscriber of subscribers) table.removeSubscriber(subscriber);
        expect(table.size).toBe(0);
        expect(table.nodeCount).toBe(0);
      }),
      { numRuns: 1500 },
    );
  });

  it('on one resource against many random subscriptions at once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ method: endpointMethod, pattern }), { minLength: 1, maxLength: 40 }),
        dispatchMethod,
        resource,
        (entries, method, elements) => {
          const table = new SubscriptionTable<object>();
          const expected: number[] = [];
          for (const entry of entries) {
            // One subscriber per entry, so every add is new.
            const { subscription } = table.add(entry.method, compilePattern(entry.pattern), {});
            if (methodMatches(entry.method, method) && reference(entry.pattern, elements) !== null) expected.push(subscription.id);
          }
          expect(table.match(method, elements).map((s) => s.id)).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

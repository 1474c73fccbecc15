/**
 * The balancing policy, pure: A58's weights from reports, stale reports ignored,
 * round robin without reports, the power of two choices with requests in flight,
 * and slow start (blackout, then a ramp from 10%) for a member that joins.
 */
import { describe, expect, it } from 'vitest';
import { BalancePolicy, capacity, spareCapacity, type Candidate } from '../../gateway/cluster/balance-policy.js';
import type { LoadFigures } from '../../gateway/saturation/report.js';

/** A seeded generator, so shares are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const NOW = 1_000_000;

function load(utilization: number, qps: number, extra: Partial<LoadFigures> = {}): LoadFigures {
  return { seq: 1, periodS: 1, level: 'ok', utilization, qps, eps: 0, ...extra };
}

function member(id: string, figures?: LoadFigures, extra: Partial<Candidate> = {}): Candidate {
  return { id, usableSince: 0, inflight: 0, slowStart: false, ...(figures ? { load: figures, receivedAt: NOW - 100 } : {}), ...extra };
}

function shares(policy: BalancePolicy, members: Candidate[], picks = 10_000, now = NOW): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(members.map((m) => [m.id, 0]));
  for (let i = 0; i < picks; i++) counts[policy.pick(members, now)!.id]!++;
  return Object.fromEntries(Object.entries(counts).map(([id, count]) => [id, count / picks]));
}

describe('the balancing policy', () => {
  it('takes a member\'s capacity from A58\'s formula, qps / (utilization + eps/qps × penalty), and weighs its spare part', () => {
    expect(capacity(load(0.5, 100), 1)).toBe(200);
    expect(capacity(load(0.5, 100, { eps: 50 }), 1)).toBe(100);
    expect(capacity(load(0.5, 100, { eps: 50 }), 0)).toBe(200);
    // The prior: requests per second added to what the member reported.
    expect(capacity(load(0.5, 0), 1, 10)).toBe(20);
    // A utilization of 0 would make it infinite.
    expect(capacity(load(0, 10), 1)).toBe(1000);
    expect(spareCapacity(load(0.5, 100), 1, 0)).toBe(100);
    expect(spareCapacity(load(1, 100), 1, 0)).toBe(0);
  });

  it('weighs each member by its spare capacity with the mean qps as a prior, and one without a report by the mean', () => {
    const policy = new BalancePolicy();
    const weights = policy.weights([member('a', load(0.5, 100)), member('b', load(0.25, 50)), member('idle', load(0.2, 0)), member('silent')], NOW);
    // The prior is the mean qps, 50.
    expect(weights.slice(0, 3)).toEqual([150, 300, 200]);
    expect(weights[3]).toBeCloseTo((150 + 300 + 200) / 3);
    // Saturated by something else: nothing.
    expect(policy.weights([member('hot', load(1, 0)), member('cool', load(0.5, 10))], NOW)[0]).toBe(0);
  });

  it('settles equal members at equal shares, and keeps a saturated one out until it clears (reports fed back)', () => {
    const policy = new BalancePolicy('weighted', {}, seeded(9));
    /** One period: the shares the policy gives, from reports of the previous period's shares at `utilization`. */
    const period = (previous: Record<string, number>, utilization: Record<string, number>) =>
      shares(policy, Object.keys(previous).map((id) => member(id, load(utilization[id]!, 1_000 * previous[id]!))), 4_000);
    // A disk filling does not follow the requests: equal disks, a lopsided start.
    let split: Record<string, number> = { a: 0.8, b: 0.2 };
    for (let i = 0; i < 12; i++) split = period(split, { a: 0.3, b: 0.3 });
    expect(split.a).toBeGreaterThan(0.42);
    expect(split.a).toBeLessThan(0.58);
    // A neighbour takes a's CPU: it gets (almost) nothing, and work again once the neighbour goes.
    for (let i = 0; i < 5; i++) split = period(split, { a: 1, b: 0.3 });
    expect(split.a).toBe(0);
    for (let i = 0; i < 5; i++) split = period(split, { a: 0.3, b: 0.3 });
    expect(split.a).toBeGreaterThan(0.3);
  });

  it('falls back to round robin with no report at all, or only stale ones', () => {
    const policy = new BalancePolicy('weighted', {}, seeded(1));
    const members = [member('a'), member('b'), member('c')];
    expect(Array.from({ length: 6 }, () => policy.pick(members, NOW)!.id)).toEqual(['b', 'c', 'a', 'b', 'c', 'a']);
    // Three periods (3 s here) old: ignored.
    const stale = [member('a', load(0.99, 1), { receivedAt: NOW - 3_001 }), member('b', load(0.01, 1000), { receivedAt: NOW - 3_001 })];
    const picked = shares(policy, stale, 1_000);
    expect(picked.a).toBeCloseTo(0.5, 1);
  });

  it('sends most new requests to the cooler member', () => {
    const policy = new BalancePolicy('weighted', {}, seeded(2));
    const picked = shares(policy, [member('hot', load(0.95, 100)), member('cool', load(0.3, 100))]);
    expect(picked.cool).toBeGreaterThan(0.9);
  });

  it('shares evenly between equal members, and leans away from one with many requests in flight', () => {
    const policy = new BalancePolicy('weighted', {}, seeded(3));
    const even = shares(policy, [member('a', load(0.4, 100)), member('b', load(0.4, 100))]);
    expect(even.a).toBeGreaterThan(0.45);
    expect(even.a).toBeLessThan(0.55);
    const busy = shares(policy, [member('a', load(0.4, 100), { inflight: 20 }), member('b', load(0.4, 100))]);
    expect(busy.b).toBeGreaterThan(0.7);
  });

  it('goes by requests in flight alone when no member has spare capacity', () => {
    const policy = new BalancePolicy('weighted', {}, seeded(6));
    const picked = shares(policy, [member('queued', load(1, 100), { inflight: 30 }), member('free', load(1, 100), { inflight: 2 })], 2_000);
    // 1/3 against 1/31.
    expect(picked.free).toBeGreaterThan(0.85);
  });

  it('leaves out a member reporting critical, unless every member does', () => {
    const policy = new BalancePolicy('weighted', {}, seeded(4));
    const picked = shares(policy, [member('drains', load(0.99, 100, { level: 'critical' })), member('serves', load(0.5, 100))], 1_000);
    expect(picked.drains).toBe(0);
    const all = shares(policy, [member('x', load(0.99, 100, { level: 'critical' })), member('y', load(0.99, 100, { level: 'critical' }))], 1_000);
    expect(all.x! + all.y!).toBe(1);
  });

  it('gives a joining member nothing in its blackout, then ramps it from 10% of its weight', () => {
    const policy = new BalancePolicy('weighted', { blackoutMs: 2_000, rampMs: 10_000 }, seeded(5));
    const joinedAt = NOW - 1_000;
    const old = member('old', load(0.4, 100));
    const joiner = (at: number) => member('new', load(0.4, 100), { slowStart: true, usableSince: at });
    expect(shares(policy, [old, joiner(joinedAt)], 2_000).new).toBe(0);
    expect(policy.ramp(joiner(NOW - 2_000), NOW)).toBeCloseTo(0.1);
    expect(policy.ramp(joiner(NOW - 7_000), NOW)).toBeCloseTo(0.55);
    expect(policy.ramp(joiner(NOW - 12_000), NOW)).toBe(1);
    // Right after the blackout: a tenth of its weight, so a share of 0.1 / 1.1.
    expect(shares(policy, [old, joiner(NOW - 2_000)]).new).toBeCloseTo(0.1 / 1.1, 1);
    const ramped = shares(policy, [old, joiner(NOW - 12_000)]);
    expect(ramped.new).toBeGreaterThan(0.45);
    // Alone, it is used at once.
    expect(policy.pick([joiner(NOW)], NOW)!.id).toBe('new');
  });

  it('round robin reads no report', () => {
    const policy = new BalancePolicy('round-robin');
    const members = [member('hot', load(0.99, 1, { level: 'critical' })), member('cool', load(0.01, 100))];
    expect(Array.from({ length: 4 }, () => policy.pick(members, NOW)!.id)).toEqual(['cool', 'hot', 'cool', 'hot']);
    expect(policy.pick([], NOW)).toBeUndefined();
  });
});

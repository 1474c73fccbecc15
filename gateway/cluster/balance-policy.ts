/**
 * Which member gets the next request: the balancing client's policy, pure (members,
 * their last reports and the time in; a member out), so the fleet can use it over
 * NATS as the client does over links.
 *
 * A member's weight is its spare capacity, from its own report. Its capacity is
 * gRFC A58's weight, `qps / (utilization + eps/qps × penalty)`: the requests it serves
 * per unit of utilization. Two changes make it hold when the utilization does not
 * follow the requests (a disk filling, a CPU taken by a neighbour): the qps gets a
 * prior, the members' mean qps (so a member that served little is not starved by the
 * estimate itself, and equal members settle at equal shares rather than drifting
 * apart); and the capacity is scaled by the headroom, `1 - utilization` (so a member
 * saturated by something else draws nothing, and a member that idles draws work).
 * A member with no fresh report gets the mean weight (as in A58). Reports older than
 * three periods count as none; with no fresh report at all the policy is round robin,
 * and with no spare capacity anywhere (every member saturated) it goes by requests in
 * flight alone.
 *
 * The pick is the power of two choices: two distinct members drawn at random in
 * proportion to their weights, then one of the two in proportion to its weight per
 * request in flight (`weight / (inflight + 1)`, as Envoy's weighted least_request
 * scores a host). With nothing in flight the shares follow the weights, which keeps
 * equal members equal; a member whose queue grows gives way to the other. A winner
 * taken by a strict comparison instead would hand every request to the heavier of
 * two, and feed its weight back through its qps. A member that joins while others serve gets no new requests for
 * a blackout period, then ramps from 10% of its weight to all of it.
 */
import type { Level, LoadFigures } from '../saturation/report.js';

export interface BalancingOptions {
  /** A58's error_utilization_penalty: how much the error rate (eps/qps) adds to utilization (default 1). */
  errorPenalty?: number;
  /** How long a member that joins later gets no new requests, ms (default 2000). */
  blackoutMs?: number;
  /** Then how long it ramps up to its full weight, ms (default 10 000). */
  rampMs?: number;
  /** The fraction of its weight the ramp starts from (default 0.1). */
  rampFrom?: number;
  /** Reports older than this many of their periods are ignored (default 3). */
  stalePeriods?: number;
}

export const BALANCING_DEFAULTS: Readonly<Required<BalancingOptions>> = {
  errorPenalty: 1,
  blackoutMs: 2_000,
  rampMs: 10_000,
  rampFrom: 0.1,
  stalePeriods: 3,
};

/** A member as the policy sees it. */
export interface Candidate {
  readonly id: string;
  /** Its latest report's figures, if one came. */
  readonly load?: LoadFigures;
  /** When that report arrived, on the picker's clock (never the member's: clocks differ). */
  readonly receivedAt?: number;
  /** Since when it can take requests (its link is up), on the picker's clock. */
  readonly usableSince: number;
  /** Requests sent to it and not answered yet. */
  readonly inflight: number;
  /** It joined while others already served: the blackout and the ramp apply. */
  readonly slowStart: boolean;
}

export type PolicyName = 'weighted' | 'round-robin';

/** Below this a utilization is taken as this: a weight must stay finite. */
const MIN_UTILIZATION = 0.01;

export function isFresh(candidate: Candidate, now: number, stalePeriods: number): boolean {
  const { load, receivedAt } = candidate;
  return load !== undefined && receivedAt !== undefined && now - receivedAt <= stalePeriods * load.periodS * 1000;
}

/**
 * A58's weight from one report, `qps / (utilization + eps/qps × penalty)`, with
 * `prior` requests per second added to the qps (0 gives A58's own).
 */
export function capacity(load: LoadFigures, errorPenalty: number, prior = 0): number {
  const errorRate = load.qps > 0 ? load.eps / load.qps : 0;
  return (load.qps + prior) / (Math.max(load.utilization, MIN_UTILIZATION) + errorRate * errorPenalty);
}

/** What a member could still take: its capacity times its headroom. */
export function spareCapacity(load: LoadFigures, errorPenalty: number, prior: number): number {
  return capacity(load, errorPenalty, prior) * Math.max(0, 1 - load.utilization);
}

export class BalancePolicy {
  readonly name: PolicyName;
  readonly options: Readonly<Required<BalancingOptions>>;
  private readonly random: () => number;
  private turn = 0;

  constructor(name: PolicyName = 'weighted', options: BalancingOptions = {}, random: () => number = Math.random) {
    this.name = name;
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...BALANCING_DEFAULTS, ...given };
    this.random = random;
  }

  /** The member for the next request, or undefined when there is none. */
  pick(candidates: readonly Candidate[], now: number): Candidate | undefined {
    if (candidates.length === 0) return undefined;
    // Plain round robin reads no report: the baseline the weighted policy is measured against.
    if (this.name === 'round-robin') return this.roundRobin(candidates);
    const usable = this.usable(candidates, now);
    if (!usable.some((candidate) => isFresh(candidate, now, this.options.stalePeriods))) return this.roundRobin(usable);
    let weights = this.weights(usable, now);
    let total = weights.reduce((sum, weight) => sum + weight, 0);
    // Every member saturated: no spare capacity anywhere, so the fewest in flight decide.
    if (!(total > 0)) {
      weights = usable.map(() => 1);
      total = usable.length;
    }
    const first = this.draw(weights, total);
    // Two distinct choices when another member has a weight.
    const rest = weights.map((weight, index) => (index === first ? 0 : weight));
    const restTotal = total - weights[first]!;
    const second = restTotal > 0 ? this.draw(rest, restTotal) : first;
    // Of the two, each in proportion to its weight per request in flight (plus the new one):
    // with none in flight the shares follow the weights, and a long queue sends work to the other.
    const score = (index: number) => weights[index]! / (usable[index]!.inflight + 1);
    const [one, other] = [score(first), score(second)];
    return usable[this.random() * (one + other) < one ? first : second];
  }

  /**
   * Each candidate's effective weight (0 for one in its blackout), in order: what
   * `pick` draws from once the critical and blacked-out members are set aside.
   */
  weights(candidates: readonly Candidate[], now: number): number[] {
    const { errorPenalty, stalePeriods } = this.options;
    const loads = candidates.map((candidate) => (isFresh(candidate, now, stalePeriods) ? candidate.load : undefined));
    const reported = loads.filter((load): load is LoadFigures => load !== undefined);
    const meanQps = reported.reduce((sum, load) => sum + load.qps, 0) / Math.max(1, reported.length);
    // Any positive prior will do when nobody serves yet: the weights then go by headroom alone.
    const prior = meanQps > 0 ? meanQps : 1;
    const spare = loads.map((load) => (load === undefined ? undefined : spareCapacity(load, errorPenalty, prior)));
    const known = spare.filter((weight): weight is number => weight !== undefined);
    const mean = known.length === 0 ? 1 : known.reduce((sum, weight) => sum + weight, 0) / known.length;
    return candidates.map((candidate, index) => (spare[index] ?? mean) * this.ramp(candidate, now));
  }

  /** 0 in the blackout, then from `rampFrom` up to 1; 1 for a member without slow start. */
  ramp(candidate: Candidate, now: number): number {
    if (!candidate.slowStart) return 1;
    const { blackoutMs, rampMs, rampFrom } = this.options;
    const elapsed = now - candidate.usableSince - blackoutMs;
    if (elapsed < 0) return 0;
    if (elapsed >= rampMs || rampMs <= 0) return 1;
    return rampFrom + ((1 - rampFrom) * elapsed) / rampMs;
  }

  /** Leaves out members that report critical and those in their blackout, unless that leaves none. */
  private usable(candidates: readonly Candidate[], now: number): readonly Candidate[] {
    const critical = (candidate: Candidate): boolean => isFresh(candidate, now, this.options.stalePeriods) && candidate.load!.level === ('critical' satisfies Level);
    const cool = candidates.filter((candidate) => !critical(candidate));
    const pool = cool.length > 0 ? cool : candidates;
    const awake = pool.filter((candidate) => this.ramp(candidate, now) > 0);
    return awake.length > 0 ? awake : pool;
  }

  private roundRobin(candidates: readonly Candidate[]): Candidate | undefined {
    if (candidates.length === 0) return undefined;
    this.turn = (this.turn + 1) % candidates.length;
    return candidates[this.turn];
  }

  private draw(weights: readonly number[], total: number): number {
    let point = this.random() * total;
    for (let index = 0; index < weights.length; index++) {
      point -= weights[index]!;
      if (point < 0) return index;
    }
    // Rounding left the point at the very end: the last member with a weight.
    for (let index = weights.length - 1; index >= 0; index--) if (weights[index]! > 0) return index;
    return 0;
  }
}

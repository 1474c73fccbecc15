/**
 * The limits one dispatch must keep, checked as it enters from a peer (an inbound
 * pipeline stage, the first one), so that nothing accepted can cost more than a small
 * multiple of its size later, and nothing accepted can fail to encode on its way
 * out: resource and pattern length, `host` hops and `via` engines, nesting depth of
 * every header value (the same for JSON and CBOR), subscriptions per connection and
 * in all. Local dispatches (drivers, plugins) are the gateway's own and pass.
 *
 * Over a limit, a dispatch with a transaction is answered 400 with the limit in the
 * reason; one that cannot be answered (no transaction, or an ANSWER) closes its
 * connection with that reason. Either way the monitor counts it and logs it at most
 * once a minute per peer.
 */
import type { Channel } from '../jstp/channel.js';
import type { Dispatch } from '../jstp/dispatch.js';
import type { Engine, Stage, Verdict } from '../jstp/engine.js';
import { ErrorCode } from '../jstp/errors.js';
import type { LimitReporter } from '../transports/limit-reporter.js';
import type { LimitName, Limits } from './schema.js';

/** Longest engine id accepted in a `via` trace. */
const MAX_VIA_ID = 64;

/** Headers validation already shaped (arrays of strings and numbers): their depth is known. */
const SHAPED = new Set(['protocol', 'method', 'resource', 'timestamp', 'token', 'host', 'endpoint']);

/** What the stage may do to a connection it cannot answer: a Connection's `abort`. */
interface Closable {
  abort(code: typeof ErrorCode.LimitExceeded, reason: string): void;
  readonly address?: string;
}

function closable(channel: Channel): Closable | undefined {
  return typeof (channel as Partial<Closable>).abort === 'function' ? (channel as unknown as Closable) : undefined;
}

/** A breach: which limit, and what to tell the peer. */
interface Breach {
  readonly limit: LimitName;
  readonly reason: string;
}

/** UTF-8 bytes of the elements' text together. */
function elementBytes(elements: readonly (string | number)[]): number {
  let total = 0;
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i]!;
    total += typeof element === 'string' ? Buffer.byteLength(element) : String(element).length;
  }
  return total;
}

/** True when `value` nests containers deeper than `max` (`{}` and `[]` are depth 1). Never recurses past max + 1. */
export function nestsDeeperThan(value: unknown, max: number, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= max) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], max, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], max, depth + 1)) return true;
  return false;
}

export interface DispatchLimitsOptions {
  limits: Limits;
  engine: Engine;
  report: LimitReporter;
}

export function dispatchLimits(options: DispatchLimitsOptions): Stage {
  const { limits, engine, report } = options;

  const resourceBreach = (what: string, elements: readonly (string | number)[]): Breach | undefined => {
    if (elements.length > limits.maxResourceElements) {
      return { limit: 'maxResourceElements', reason: `${what} has ${elements.length} elements, more than ${limits.maxResourceElements}` };
    }
    // Cheap first: UTF-16 length times three bounds the UTF-8 size.
    let length = 0;
    for (let i = 0; i < elements.length; i++) {
      const element = elements[i]!;
      length += typeof element === 'string' ? element.length : 24;
    }
    if (length * 3 <= limits.maxResourceBytes) return undefined;
    const size = elementBytes(elements);
    if (size <= limits.maxResourceBytes) return undefined;
    return { limit: 'maxResourceBytes', reason: `${what} is ${size} bytes, more than ${limits.maxResourceBytes}` };
  };

  const viaBreach = (via: unknown): Breach | undefined => {
    const wellFormed = Array.isArray(via) && via.every((id) => typeof id === 'string' && id.length > 0 && id.length <= MAX_VIA_ID);
    if (!wellFormed) return { limit: 'maxHops', reason: `via must be a list of engine ids of at most ${MAX_VIA_ID} characters` };
    if (via.length > limits.maxHops) return { limit: 'maxHops', reason: `via names ${via.length} engines, more than ${limits.maxHops}` };
    return undefined;
  };

  const subscriptionBreach = (dispatch: Dispatch, from: Channel): Breach | undefined => {
    const own = engine.subscriptionCount(from);
    const all = engine.stats().subscriptions;
    if (own < limits.maxSubscriptionsPerConnection && all < limits.maxSubscriptions) return undefined;
    // Binding what it already holds changes nothing, so it is never refused.
    if (engine.isBound(from, dispatch.endpoint!)) return undefined;
    if (own >= limits.maxSubscriptionsPerConnection) {
      return { limit: 'maxSubscriptionsPerConnection', reason: `this connection holds ${own} subscriptions, the most it may` };
    }
    return { limit: 'maxSubscriptions', reason: `the gateway holds ${all} subscriptions, the most it may` };
  };

  const breachOf = (dispatch: Dispatch, from: Channel): Breach | undefined => {
    const resource = dispatch.resource;
    let breach = resource && dispatch.method !== 'ANSWER' ? resourceBreach('resource', resource) : undefined;
    const endpoint = dispatch.endpoint;
    if (!breach && endpoint) breach = resourceBreach('endpoint pattern', endpoint.resource);
    const host = dispatch.host;
    if (!breach && host && host.length > limits.maxHops) breach = { limit: 'maxHops', reason: `host lists ${host.length} hops, more than ${limits.maxHops}` };
    if (!breach && dispatch.via !== undefined) breach = viaBreach(dispatch.via);
    if (!breach) {
      for (const key in dispatch) {
        if (SHAPED.has(key) || !nestsDeeperThan(dispatch[key], limits.maxDepth)) continue;
        breach = { limit: 'maxDepth', reason: `${key} nests deeper than ${limits.maxDepth} levels` };
        break;
      }
    }
    if (!breach && dispatch.method === 'BIND' && (!host || host.length === 0)) breach = subscriptionBreach(dispatch, from);
    return breach;
  };

  const refuse = (dispatch: Dispatch, from: Channel, breach: Breach): Verdict => {
    const target = closable(from);
    const peer = target?.address ?? from.id;
    report.exceeded(breach.limit, peer, { method: dispatch.method, reason: breach.reason });
    const reason = `${breach.limit}: ${breach.reason}`;
    if (dispatch.token && dispatch.method !== 'ANSWER') return { answer: 400, reason };
    // Nothing to answer: the peer hears it as the reason its connection closed.
    target?.abort(ErrorCode.LimitExceeded, reason);
    return { drop: reason };
  };

  return {
    name: 'limits',
    inbound(dispatch, from) {
      if (!from) return dispatch;
      const breach = breachOf(dispatch, from);
      return breach ? refuse(dispatch, from, breach) : dispatch;
    },
  };
}

/**
 * What a grant allows (docs/spec/security.md, "Capabilities"): a list of
 * capabilities, each an ability, a method and a JSTP pattern.
 * - `send`: send dispatches of that method (requests and emits) to resources the
 *   pattern matches. Only regular methods: BIND, RELEASE and ANSWER are not sent
 *   on a capability.
 * - `observe`: BIND endpoints of that method and receive the matching dispatches
 *   that carry no transaction (property PATCHes, events).
 * - `serve`: BIND and receive the matching requests, which carry a transaction, and
 *   answer them: acting as the device. A right of its own, apart from `observe`.
 * The presets (admin, operate, read, serve) are lists of these. Pure.
 */
import type { CborItem } from './cbor-item.js';
import { METHODS, REGULAR_METHODS, type ResourceElement } from '../jstp/dispatch.js';
import { compilePattern, normalizePattern, type CompiledPattern } from '../jstp/endpoint.js';
import { includes, intersects, tokens } from './patterns.js';

export const ABILITIES = ['send', 'observe', 'serve'] as const;
export type Ability = (typeof ABILITIES)[number];

/** The ability codes of the CBOR form: [ability, method, pattern]. */
const ABILITY_CODES: Readonly<Record<Ability, number>> = { send: 1, observe: 2, serve: 3 };
const ABILITY_BY_CODE: readonly (Ability | undefined)[] = [undefined, 'send', 'observe', 'serve'];

export const MAX_CAPABILITIES = 64;
export const MAX_PATTERN_ELEMENTS = 24;

export interface Capability {
  readonly ability: Ability;
  /** A method, or '*' for any. */
  readonly method: string;
  /** A normalized JSTP pattern. */
  readonly pattern: readonly string[];
}

interface CompiledCapability extends Capability {
  readonly matcher: CompiledPattern;
}

/** Checks and normalizes one capability; throws with what is wrong. */
export function capability(ability: string, method: string, pattern: readonly (string | number)[]): Capability {
  if (!(ABILITIES as readonly string[]).includes(ability)) throw new TypeError(`unknown ability "${ability}" (send, observe or serve)`);
  const upper = method.toUpperCase();
  const allowed: readonly string[] = ability === 'send' ? REGULAR_METHODS : METHODS;
  if (upper !== '*' && !allowed.includes(upper)) throw new TypeError(`"${method}" is not a method a ${ability} capability can name`);
  const normalized = normalizePattern(pattern, 'strict');
  if (!normalized.ok) throw new TypeError(`bad pattern: ${normalized.reason}`);
  if (normalized.pattern.length > MAX_PATTERN_ELEMENTS) throw new TypeError(`a capability pattern has at most ${MAX_PATTERN_ELEMENTS} elements`);
  tokens(normalized.pattern);
  return { ability: ability as Ability, method: upper, pattern: normalized.pattern };
}

export function capabilityText(c: Capability): string {
  return `${c.ability} ${c.method} ${c.pattern.join('/')}`;
}

export function capabilityToItem(c: Capability): CborItem {
  return [ABILITY_CODES[c.ability], c.method, [...c.pattern]];
}

export function capabilityFromItem(item: CborItem): Capability {
  if (!Array.isArray(item) || item.length !== 3) throw new TypeError('a capability is [ability, method, pattern]');
  const [code, method, pattern] = item;
  const ability = typeof code === 'number' ? ABILITY_BY_CODE[code] : undefined;
  if (!ability) throw new TypeError(`unknown ability code ${String(code)}`);
  if (typeof method !== 'string') throw new TypeError('a capability method is text');
  if (!Array.isArray(pattern) || pattern.length === 0 || !pattern.every((e) => typeof e === 'string')) throw new TypeError('a capability pattern is an array of text');
  const checked = capability(ability, method, pattern as string[]);
  // Only the normalized form is accepted: one capability, one encoding.
  if (checked.pattern.join('\u0000') !== (pattern as string[]).join('\u0000') || checked.method !== method) throw new TypeError('a capability must be in normalized form');
  return checked;
}

function methodCovers(outer: string, inner: string): boolean {
  return outer === '*' || outer === inner;
}

/** A set of capabilities, compiled for the checks made on every dispatch. */
export class CapabilitySet {
  private readonly compiled: readonly CompiledCapability[];

  constructor(readonly capabilities: readonly Capability[]) {
    this.compiled = capabilities.map((c) => ({ ...c, matcher: compilePattern(c.pattern) }));
  }

  static all(): CapabilitySet {
    return new CapabilitySet(ABILITIES.map((ability) => capability(ability, '*', ['...'])));
  }

  /** May `method` be sent to `resource`? */
  allowsSend(method: string, resource: readonly ResourceElement[]): boolean {
    for (const c of this.compiled) {
      if (c.ability === 'send' && methodCovers(c.method, method) && c.matcher.match(resource)) return true;
    }
    return false;
  }

  /** May a BIND of `method` on `pattern` be taken? Only if something could ever be delivered to it. */
  allowsBind(method: string, pattern: readonly string[]): boolean {
    for (const c of this.compiled) {
      if (c.ability === 'send') continue;
      if ((c.method === '*' || method === '*' || c.method === method) && intersects(c.pattern, pattern)) return true;
    }
    return false;
  }

  /**
   * May a subscriber receive this dispatch? `serving` when it carries a transaction
   * (the subscriber is asked to answer). For BIND and RELEASE, `target` is the
   * endpoint's pattern.
   */
  allowsDelivery(method: string, target: readonly ResourceElement[], serving: boolean, isPattern: boolean): boolean {
    const ability: Ability = serving ? 'serve' : 'observe';
    for (const c of this.compiled) {
      if (c.ability !== ability || !methodCovers(c.method, method)) continue;
      if (isPattern ? intersects(c.pattern, target as string[]) : c.matcher.match(target)) return true;
    }
    return false;
  }

  /** True when every capability of `narrower` is within one of these (a delegation may have it). */
  covers(narrower: CapabilitySet): boolean {
    return narrower.capabilities.every((inner) => this.coversOne(inner));
  }

  /** The first capability of `narrower` that none of these covers. */
  firstUncovered(narrower: CapabilitySet): Capability | undefined {
    return narrower.capabilities.find((inner) => !this.coversOne(inner));
  }

  private coversOne(inner: Capability): boolean {
    return this.capabilities.some((outer) => outer.ability === inner.ability && methodCovers(outer.method, inner.method) && includes(outer.pattern, inner.pattern));
  }
}

// ---- presets ------------------------------------------------------------------------

export const PRESETS = ['admin', 'operate', 'read', 'serve'] as const;
export type Preset = (typeof PRESETS)[number];

/** `["devices", "..."]`, or one pattern per device. */
function devicePatterns(devices: readonly string[] | undefined, ...rest: string[]): string[][] {
  if (!devices || devices.length === 0) return [['devices', ...(rest.length > 0 ? ['*', ...rest] : ['...'])]];
  return devices.map((id) => ['devices', id, ...(rest.length > 0 ? rest : ['...'])]);
}

/**
 * The capabilities of a preset, optionally limited to some devices:
 * - admin: everything (send, observe and serve any method anywhere); `devices` does not apply;
 * - operate: GET, PUT and POST on the devices, and observe anything on them;
 * - read: GET on the devices, observe their PATCHes (properties, availability) and events;
 * - serve: act as the devices (needs `devices`): serve any request to them, send their
 *   PATCHes and events. It is the only preset besides admin that answers for a device.
 * Every preset but admin also lets the holder list the devices (GET ["devices"]).
 */
export function presetCapabilities(preset: Preset, devices?: readonly string[]): Capability[] {
  const list = (): Capability => capability('send', 'GET', ['devices']);
  switch (preset) {
    case 'admin':
      if (devices && devices.length > 0) throw new TypeError('admin is everything: it cannot be limited to devices (use operate)');
      return ABILITIES.map((ability) => capability(ability, '*', ['...']));
    case 'operate':
      return [
        list(),
        ...devicePatterns(devices).flatMap((pattern) => [
          capability('send', 'GET', pattern),
          capability('send', 'PUT', pattern),
          capability('send', 'POST', pattern),
          capability('observe', '*', pattern),
        ]),
      ];
    case 'read':
      return [
        list(),
        ...devicePatterns(devices).flatMap((pattern) => [capability('send', 'GET', pattern), capability('observe', 'PATCH', pattern)]),
        ...devicePatterns(devices, 'events', '...').map((pattern) => capability('observe', 'POST', pattern)),
      ];
    case 'serve':
      if (!devices || devices.length === 0) throw new TypeError('serve acts as devices: name them (--devices)');
      return [
        list(),
        ...devicePatterns(devices).flatMap((pattern) => [capability('serve', '*', pattern), capability('send', 'PATCH', pattern)]),
        ...devicePatterns(devices, 'events', '...').map((pattern) => capability('send', 'POST', pattern)),
      ];
  }
}

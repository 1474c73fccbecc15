/**
 * Who may do what before any grant: the owners (everything) and the `anonymous`
 * setting for unsigned dispatches. Discovery is always open: GET ["gateway"],
 * GET ["gateway", "identity"], and asking for a pairing code. Pure.
 */
import { CapabilitySet, capability, presetCapabilities, type Capability } from './capabilities.js';
import { publicIdentityFromId, type PublicIdentity } from './identity.js';
import type { SignatureSuite } from './suite.js';

export const ANONYMOUS_LEVELS = ['none', 'read', 'full'] as const;
export type AnonymousLevel = (typeof ANONYMOUS_LEVELS)[number];

/** What every caller may do, signed or not. */
export function discoveryCapabilities(): Capability[] {
  return [
    capability('send', 'GET', ['gateway']),
    capability('send', 'GET', ['gateway', 'identity']),
    capability('send', 'POST', ['gateway', 'pairing']),
    capability('send', 'GET', ['gateway', 'pairing', '*']),
  ];
}

export function anonymousCapabilities(level: AnonymousLevel): CapabilitySet {
  if (level === 'full') return CapabilitySet.all();
  return new CapabilitySet([...discoveryCapabilities(), ...(level === 'read' ? presetCapabilities('read') : [])]);
}

export interface Policy {
  /** Owners by identity id: the roots of every grant, and allowed everything themselves. */
  readonly owners: ReadonlyMap<string, PublicIdentity>;
  /** Owners by kid (hex), to find the key a signature names. */
  readonly ownersByKid: ReadonlyMap<string, readonly PublicIdentity[]>;
  readonly anonymousLevel: AnonymousLevel;
  readonly anonymous: CapabilitySet;
}

export function createPolicy(suite: SignatureSuite, owners: readonly string[], anonymous: AnonymousLevel): Policy {
  const byId = new Map<string, PublicIdentity>();
  const byKid = new Map<string, PublicIdentity[]>();
  for (const id of owners) {
    const owner = publicIdentityFromId(suite, id);
    byId.set(owner.id, owner);
    byKid.set(owner.kidHex, [...(byKid.get(owner.kidHex) ?? []), owner]);
  }
  return { owners: byId, ownersByKid: byKid, anonymousLevel: anonymous, anonymous: anonymousCapabilities(anonymous) };
}

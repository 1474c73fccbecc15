/**
 * Pairing a page with the gateway (docs/spec/security.md, "Pairing"): the page asks
 * for a code for its public key, shows it, and an owner running
 * `pasarela pair CODE --can ...` reads the key behind the code, issues a grant to it
 * and hands it in; the page then fetches its grant. Codes are 8 characters of
 * Crockford's base32 (40 bits), valid for 10 minutes. Nothing here is secret: a
 * grant is useless without its holder's private key. Pure.
 */
import { decodeChain, verifyChain } from './grant.js';
import { parseIdentityId } from './identity.js';
import type { SignatureSuite } from './suite.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const PAIRING_TTL_MS = 10 * 60 * 1000;
export const MAX_PENDING = 64;

interface Pairing {
  readonly code: string;
  readonly key: string;
  readonly expiresAt: number;
  grant?: string;
}

export interface PairingView {
  readonly code: string;
  readonly key: string;
  readonly state: 'waiting' | 'granted';
  readonly expiresAt: number;
  readonly grant?: string;
}

/** A code as people may type it: any case, with or without the hyphen, o/i/l read as 0/1/1. */
export function normalizeCode(text: string): string {
  return text.toUpperCase().replace(/[-\s]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

export class PairingDesk {
  private readonly pending = new Map<string, Pairing>();

  constructor(
    private readonly suite: SignatureSuite,
    private readonly owners: () => ReadonlySet<string>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A code for `key` (the same one while it is pending). */
  request(key: string): { code: string; expiresAt: number } {
    const parsed = parseIdentityId(key);
    if (!parsed.ok) throw new TypeError(parsed.reason);
    this.sweep();
    for (const pairing of this.pending.values()) if (pairing.key === key && !pairing.grant) return { code: display(pairing.code), expiresAt: pairing.expiresAt };
    if (this.pending.size >= MAX_PENDING) throw new RangeError('too many pairings are waiting: try again in a few minutes');
    let code: string;
    do {
      const bytes = this.suite.randomBytes(5);
      let bits = 0n;
      for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
      code = '';
      for (let i = 7; i >= 0; i--) code += CROCKFORD[Number((bits >> BigInt(5 * i)) & 31n)];
    } while (this.pending.has(code));
    const pairing: Pairing = { code, key, expiresAt: this.now() + PAIRING_TTL_MS };
    this.pending.set(code, pairing);
    return { code: display(code), expiresAt: pairing.expiresAt };
  }

  lookup(code: string): PairingView | undefined {
    this.sweep();
    const pairing = this.pending.get(normalizeCode(code));
    if (!pairing) return undefined;
    const view = { code: display(pairing.code), key: pairing.key, state: pairing.grant ? 'granted' : 'waiting', expiresAt: pairing.expiresAt } as const;
    return pairing.grant ? { ...view, grant: pairing.grant } : view;
  }

  /** Hands in the grant for a code; throws when it is not a valid grant for the code's key. */
  complete(code: string, grant: string): PairingView {
    this.sweep();
    const pairing = this.pending.get(normalizeCode(code));
    if (!pairing) throw new RangeError(`no pairing is waiting under code ${code}`);
    const chain = verifyChain(this.suite, decodeChain(grant).grants, this.owners());
    if (chain.holder.id !== pairing.key) throw new TypeError(`the grant is for ${chain.holder.id}, not for the key behind ${code} (${pairing.key})`);
    pairing.grant = grant;
    return this.lookup(code)!;
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, pairing] of this.pending) if (pairing.expiresAt <= now) this.pending.delete(code);
  }
}

function display(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

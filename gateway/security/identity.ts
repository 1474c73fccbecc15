/**
 * Identities: an Ed25519 key pair that signs, with an X25519 key pair beside it for
 * sealing (part 2 of the security spec). Their names:
 * - the identity id, what people read aloud, compare, and put in configs and
 *   commands: the Ed25519 public key in bech32m with the prefix `pas`
 *   (`pas1` + 52 + 6 characters);
 * - the kid, what a COSE header carries: the first 8 bytes of the key's COSE Key
 *   Thumbprint (RFC 9679, SHA-256). It only picks the key among those a verifier
 *   already holds; it is never trusted on its own.
 * The JWK Set (RFC 7517, OKP keys per RFC 8037) is the file format. Browser-safe.
 */
import { base64url, fromBase64url, toHex } from './bytes.js';
import { bech32mDecode, bech32mEncode } from './bech32.js';
import { Curve, okpThumbprintInput } from './cose.js';
import type { SignatureSuite, SignFunction, VerifyFunction } from './suite.js';

export const IDENTITY_PREFIX = 'pas';
export const KID_BYTES = 8;

/** What anyone may know of an identity. */
export interface PublicIdentity {
  /** `pas1...`: the Ed25519 public key in bech32m. */
  readonly id: string;
  readonly signingKey: Uint8Array;
  /** 8 bytes: the start of the signing key's COSE Key Thumbprint. */
  readonly kid: Uint8Array;
  /** The kid in hex, for maps and logs. */
  readonly kidHex: string;
}

/** An identity with its secrets: it can sign. */
export interface Identity extends PublicIdentity {
  readonly sign: SignFunction;
  /** The X25519 public key (for sealing, part 2). */
  readonly agreementKey: Uint8Array;
  readonly secrets: { readonly signing: Uint8Array; readonly agreement: Uint8Array };
}

export function identityId(signingKey: Uint8Array): string {
  return bech32mEncode(IDENTITY_PREFIX, signingKey);
}

export type ParsedId = { ok: true; signingKey: Uint8Array } | { ok: false; reason: string };

/** Reads an identity id (`pas1...`), checksum and length checked. */
export function parseIdentityId(text: string): ParsedId {
  const decoded = bech32mDecode(text.trim());
  if (!decoded.ok) return { ok: false, reason: `"${text}" is not an identity id: it ${decoded.reason}` };
  if (decoded.prefix !== IDENTITY_PREFIX) return { ok: false, reason: `"${text}" is not an identity id: its prefix is "${decoded.prefix}", not "${IDENTITY_PREFIX}"` };
  if (decoded.bytes.length !== 32) return { ok: false, reason: `"${text}" is not an identity id: it holds ${decoded.bytes.length} bytes, not 32` };
  return { ok: true, signingKey: decoded.bytes };
}

export function kidOf(suite: SignatureSuite, signingKey: Uint8Array): Uint8Array {
  return suite.sha256(okpThumbprintInput(Curve.Ed25519, signingKey)).slice(0, KID_BYTES);
}

export function publicIdentity(suite: SignatureSuite, signingKey: Uint8Array): PublicIdentity {
  const kid = kidOf(suite, signingKey);
  return { id: identityId(signingKey), signingKey: signingKey.slice(), kid, kidHex: toHex(kid) };
}

/** The public identity named by an id; throws with the reason for a bad one. */
export function publicIdentityFromId(suite: SignatureSuite, id: string): PublicIdentity {
  const parsed = parseIdentityId(id);
  if (!parsed.ok) throw new TypeError(parsed.reason);
  return publicIdentity(suite, parsed.signingKey);
}

/** An identity from its two 32-byte secrets (fresh random ones when not given). */
export function createIdentity(suite: SignatureSuite, secrets?: { signing: Uint8Array; agreement: Uint8Array }): Identity {
  const signing = secrets?.signing ?? suite.randomBytes(32);
  const agreement = secrets?.agreement ?? suite.randomBytes(32);
  const signingKey = suite.publicKey(signing);
  return {
    ...publicIdentity(suite, signingKey),
    sign: suite.signer(signing),
    agreementKey: suite.x25519PublicKey(agreement),
    secrets: { signing: signing.slice(), agreement: agreement.slice() },
  };
}

// ---- JWK Set -------------------------------------------------------------------------

interface OkpJwk {
  kty: 'OKP';
  crv: 'Ed25519' | 'X25519';
  x: string;
  d?: string;
  kid?: string;
  use?: 'sig' | 'enc';
}

/** The identity as a JWK Set holding both secrets. */
export function toJwkSet(identity: Identity): { keys: OkpJwk[] } {
  return {
    keys: [
      { kty: 'OKP', crv: 'Ed25519', use: 'sig', kid: identity.id, x: base64url(identity.signingKey), d: base64url(identity.secrets.signing) },
      { kty: 'OKP', crv: 'X25519', use: 'enc', kid: identity.id, x: base64url(identity.agreementKey), d: base64url(identity.secrets.agreement) },
    ],
  };
}

/**
 * The identity a JWK Set holds; throws with what is wrong. The public keys in it
 * must be those of its secrets, so a file edited by hand cannot claim another id.
 */
export function fromJwkSet(suite: SignatureSuite, value: unknown): Identity {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new TypeError('not a JWK Set: no "keys" list');
  const find = (crv: string): { d: Uint8Array; x: Uint8Array | undefined } => {
    const jwk = keys.find((key) => (key as OkpJwk | null)?.kty === 'OKP' && (key as OkpJwk).crv === crv) as OkpJwk | undefined;
    if (!jwk) throw new TypeError(`no OKP ${crv} key`);
    const d = typeof jwk.d === 'string' ? fromBase64url(jwk.d) : undefined;
    if (!d || d.length !== 32) throw new TypeError(`the ${crv} key has no 32-byte secret "d"`);
    const x = typeof jwk.x === 'string' ? fromBase64url(jwk.x) : undefined;
    return { d, x };
  };
  const signing = find('Ed25519');
  const agreement = find('X25519');
  const identity = createIdentity(suite, { signing: signing.d, agreement: agreement.d });
  if (signing.x && base64url(signing.x) !== base64url(identity.signingKey)) throw new TypeError('the Ed25519 "x" is not the public key of its "d"');
  if (agreement.x && base64url(agreement.x) !== base64url(identity.agreementKey)) throw new TypeError('the X25519 "x" is not the public key of its "d"');
  return identity;
}

/** Verifying functions by public key, so a key is imported once, not per dispatch. */
export class VerifierCache {
  private readonly cache = new Map<string, VerifyFunction>();
  constructor(private readonly suite: SignatureSuite, private readonly limit = 1024) {}

  for(signingKey: Uint8Array): VerifyFunction {
    const key = base64url(signingKey);
    let verify = this.cache.get(key);
    if (verify) return verify;
    verify = this.suite.verifier(signingKey);
    if (this.cache.size >= this.limit) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, verify);
    return verify;
  }
}

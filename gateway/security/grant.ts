/**
 * Grants (docs/spec/security.md, "Grants"): signed capabilities in the shape of a
 * UCAN, written as a CWT (RFC 8392) in a COSE_Sign1 (tag 18). The claims: iss (1)
 * and aud (3) as identity ids, exp (4), nbf (5), iat (6), cti (7, 16 random bytes),
 * "att" (the capabilities) and "prf" (the SHA-256 of the grant it derives from).
 * A chain runs from a grant issued by an owner to the one naming the holder; each
 * link may only narrow. Browser-safe.
 */
import { base64url, equalBytes, fromBase64url } from './bytes.js';
import { arrayElements, decodeItem, encodeItem, type CborItem, type CborMap } from './cbor-item.js';
import { CapabilitySet, capabilityFromItem, capabilityText, capabilityToItem, MAX_CAPABILITIES, type Capability } from './capabilities.js';
import { Alg, CONTENT_FORMAT_CWT, CoseError, decodeSign1, encodeProtected, encodeSign1, Header, sigStructure1 } from './cose.js';
import { KID_BYTES, kidOf, parseIdentityId, publicIdentity, type Identity, type PublicIdentity } from './identity.js';
import type { SignatureSuite } from './suite.js';

export const GRANT_HEADER = 'grant';
export const MAX_CHAIN_LENGTH = 8;
export const MAX_CHAIN_BYTES = 8 * 1024;

const Claim = { Iss: 1, Aud: 3, Exp: 4, Nbf: 5, Iat: 6, Cti: 7 } as const;

export interface GrantClaims {
  readonly issuer: string;
  readonly audience: string;
  /** Seconds since the epoch (NumericDate). */
  readonly notBefore: number;
  /** Seconds since the epoch; undefined: no expiry (only an owner may leave it out). */
  readonly expires: number | undefined;
  readonly issuedAt: number;
  readonly id: Uint8Array;
  readonly capabilities: readonly Capability[];
  /** SHA-256 of the parent grant's bytes; empty for a root. */
  readonly proofs: readonly Uint8Array[];
}

export interface Grant {
  /** The tagged COSE_Sign1, exactly as signed. */
  readonly bytes: Uint8Array;
  readonly claims: GrantClaims;
}

export interface IssueOptions {
  audience: string;
  capabilities: readonly Capability[];
  notBefore?: number;
  expires?: number;
  /** The grant this one derives from (its audience must be the issuer). */
  parent?: Grant;
  now?: number;
}

function claimsToItem(claims: GrantClaims): CborMap {
  const map: CborMap = new Map<number | string, CborItem>([
    [Claim.Iss, claims.issuer],
    [Claim.Aud, claims.audience],
    [Claim.Nbf, claims.notBefore],
    [Claim.Iat, claims.issuedAt],
    [Claim.Cti, claims.id],
    ['att', claims.capabilities.map(capabilityToItem)],
    ['prf', [...claims.proofs]],
  ]);
  if (claims.expires !== undefined) map.set(Claim.Exp, claims.expires);
  return map;
}

export function grantHash(suite: SignatureSuite, grant: Grant): Uint8Array {
  return suite.sha256(grant.bytes);
}

/** Issues a grant signed by `issuer`; checks nothing about narrowing (verifyChain does). */
export function issueGrant(suite: SignatureSuite, issuer: Identity, options: IssueOptions): Grant {
  const audience = parseIdentityId(options.audience);
  if (!audience.ok) throw new TypeError(audience.reason);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const claims: GrantClaims = {
    issuer: issuer.id,
    audience: options.audience,
    notBefore: options.notBefore ?? now,
    expires: options.expires,
    issuedAt: now,
    id: suite.randomBytes(16),
    capabilities: options.capabilities,
    proofs: options.parent ? [grantHash(suite, options.parent)] : [],
  };
  const protectedBytes = encodeProtected(new Map<number, CborItem>([[Header.Alg, Alg.EdDSA], [Header.ContentType, CONTENT_FORMAT_CWT], [Header.Kid, issuer.kid]]));
  const payload = encodeItem(claimsToItem(claims));
  const signature = issuer.sign(sigStructure1(protectedBytes, new Uint8Array(0), payload));
  return { bytes: encodeSign1({ protectedBytes, unprotectedHeader: new Map(), payload, signature }, true), claims };
}

// ---- chains on the wire and in files ----------------------------------------------------

export function encodeChain(chain: readonly Grant[]): string {
  if (chain.length === 0 || chain.length > MAX_CHAIN_LENGTH) throw new RangeError(`a grant chain holds 1 to ${MAX_CHAIN_LENGTH} grants`);
  // The array's elements are the grants' own bytes: a chain is never re-encoded.
  const parts = [Uint8Array.of(0x80 | chain.length), ...chain.map((grant) => grant.bytes)];
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return base64url(out);
}

export class GrantError extends Error {
  constructor(readonly code: 'bad-grant' | 'expired', message: string) {
    super(message);
    this.name = 'GrantError';
  }
}

function bad(message: string): GrantError {
  return new GrantError('bad-grant', message);
}

/** Reads a chain's text (a header or a grant file); structure only, nothing verified. */
export function decodeChain(text: string): { grants: Grant[]; bytes: Uint8Array } {
  if (text.length > (MAX_CHAIN_BYTES * 4) / 3 + 4) throw bad('the grant chain is too long');
  const bytes = fromBase64url(text.trim());
  if (!bytes) throw bad('the grant chain is not base64url');
  let elements: Uint8Array[];
  try {
    elements = arrayElements(bytes);
  } catch (error) {
    throw bad(`the grant chain is not a CBOR array: ${(error as Error).message}`);
  }
  if (elements.length === 0 || elements.length > MAX_CHAIN_LENGTH) throw bad(`a grant chain holds 1 to ${MAX_CHAIN_LENGTH} grants`);
  return { grants: elements.map((element, index) => decodeGrant(element.slice(), index)), bytes };
}

function decodeGrant(bytes: Uint8Array, index: number): Grant {
  const where = `grant ${index + 1}`;
  let sign1;
  try {
    sign1 = decodeSign1(bytes, { tag: 'required' });
  } catch (error) {
    throw bad(`${where}: ${error instanceof CoseError ? error.message : 'not a COSE_Sign1'}`);
  }
  const header = sign1.protectedHeader;
  if (header.size !== 3 || header.get(Header.Alg) !== Alg.EdDSA || header.get(Header.ContentType) !== CONTENT_FORMAT_CWT) {
    throw bad(`${where}: the protected header must hold exactly alg EdDSA, content type 61 (CWT) and kid`);
  }
  if (sign1.unprotectedHeader.size !== 0 || !sign1.payload || sign1.signature.length !== 64) throw bad(`${where}: not a grant's COSE_Sign1`);
  let claims: CborItem;
  try {
    claims = decodeItem(sign1.payload);
  } catch (error) {
    throw bad(`${where}: claims are not well-formed CBOR (${(error as Error).message})`);
  }
  if (!(claims instanceof Map)) throw bad(`${where}: claims must be a map`);
  const known = new Set<number | string>([Claim.Iss, Claim.Aud, Claim.Exp, Claim.Nbf, Claim.Iat, Claim.Cti, 'att', 'prf']);
  for (const key of claims.keys()) if (!known.has(key)) throw bad(`${where}: unknown claim ${JSON.stringify(key)}`);
  const text = (key: number, name: string): string => {
    const value = claims.get(key);
    if (typeof value !== 'string') throw bad(`${where}: ${name} must be an identity id`);
    return value;
  };
  const integer = (key: number, name: string, optional: boolean): number | undefined => {
    const value = claims.get(key);
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(`${where}: ${name} must be a NumericDate`);
    return value;
  };
  const att = claims.get('att');
  if (!Array.isArray(att) || att.length === 0 || att.length > MAX_CAPABILITIES) throw bad(`${where}: att must list 1 to ${MAX_CAPABILITIES} capabilities`);
  let capabilities: Capability[];
  try {
    capabilities = att.map(capabilityFromItem);
  } catch (error) {
    throw bad(`${where}: ${(error as Error).message}`);
  }
  const prf = claims.get('prf');
  if (!Array.isArray(prf) || prf.length > 1 || !prf.every((p) => p instanceof Uint8Array && p.length === 32)) throw bad(`${where}: prf must hold at most one SHA-256 hash`);
  const id = claims.get(Claim.Cti);
  if (!(id instanceof Uint8Array) || id.length !== 16) throw bad(`${where}: cti must be 16 bytes`);
  const kid = header.get(Header.Kid);
  if (!(kid instanceof Uint8Array) || kid.length !== KID_BYTES) throw bad(`${where}: the kid must be ${KID_BYTES} bytes`);
  return {
    bytes,
    claims: {
      issuer: text(Claim.Iss, 'iss'),
      audience: text(Claim.Aud, 'aud'),
      notBefore: integer(Claim.Nbf, 'nbf', false)!,
      expires: integer(Claim.Exp, 'exp', true),
      issuedAt: integer(Claim.Iat, 'iat', false)!,
      id,
      capabilities,
      proofs: prf as Uint8Array[],
    },
  };
}

// ---- verification -------------------------------------------------------------------------

/** What a verified chain gives its holder. */
export interface VerifiedChain {
  /** The holder: the last grant's audience. */
  readonly holder: PublicIdentity;
  readonly capabilities: CapabilitySet;
  /** Seconds: the latest nbf and the earliest exp of the chain. */
  readonly notBefore: number;
  readonly expires: number | undefined;
  readonly root: string;
}

/** Clock skew allowed on `nbf`, in seconds (a grant issued on a clock a little ahead). */
export const NOT_BEFORE_SKEW_S = 60;

/**
 * Verifies a chain against the owners (identity ids): every signature, every link
 * (issuer = previous audience, prf = hash of the previous grant), every narrowing
 * (capabilities within the parent's, validity within the parent's). Throws
 * GrantError. Expiry is checked by `checkValidity`, on every use.
 */
export function verifyChain(suite: SignatureSuite, chain: readonly Grant[], owners: ReadonlySet<string>): VerifiedChain {
  let parent: { grant: Grant; capabilities: CapabilitySet } | undefined;
  let notBefore = 0;
  let expires: number | undefined;
  for (let index = 0; index < chain.length; index++) {
    const grant = chain[index]!;
    const { claims } = grant;
    const where = `grant ${index + 1}`;
    const issuer = parseIdentityId(claims.issuer);
    if (!issuer.ok) throw bad(`${where}: iss: ${issuer.reason}`);
    if (!parseIdentityId(claims.audience).ok) throw bad(`${where}: aud is not an identity id`);
    const sign1 = decodeSign1(grant.bytes, { tag: 'required' });
    if (!equalBytes(sign1.protectedHeader.get(Header.Kid) as Uint8Array, kidOf(suite, issuer.signingKey))) throw bad(`${where}: the kid is not the issuer's`);
    const signed = sigStructure1(sign1.protectedBytes, new Uint8Array(0), sign1.payload!);
    if (!suite.verifier(issuer.signingKey)(signed, sign1.signature)) throw bad(`${where}: the signature is not the issuer's (forged or altered)`);
    if (claims.expires !== undefined && claims.expires <= claims.notBefore) throw bad(`${where}: it expires before it starts`);
    const capabilities = new CapabilitySet(claims.capabilities);
    if (!parent) {
      if (!owners.has(claims.issuer)) throw bad(`${where}: its issuer ${claims.issuer} is not an owner of this gateway`);
      if (claims.proofs.length !== 0) throw bad(`${where}: a root grant derives from nothing`);
    } else {
      const before = parent.grant.claims;
      if (claims.issuer !== before.audience) throw bad(`${where}: issued by ${claims.issuer}, but grant ${index} was given to ${before.audience}`);
      const proof = claims.proofs[0];
      if (!proof || !equalBytes(proof, grantHash(suite, parent.grant))) throw bad(`${where}: prf is not the hash of grant ${index}`);
      const widened = parent.capabilities.firstUncovered(capabilities);
      if (widened) throw bad(`${where}: "${capabilityText(widened)}" is not within grant ${index}: a delegation may only narrow`);
      if (claims.notBefore < before.notBefore) throw bad(`${where}: it starts before grant ${index}`);
      if (before.expires !== undefined && (claims.expires === undefined || claims.expires > before.expires)) throw bad(`${where}: it outlives grant ${index}`);
    }
    notBefore = Math.max(notBefore, claims.notBefore);
    if (claims.expires !== undefined) expires = expires === undefined ? claims.expires : Math.min(expires, claims.expires);
    parent = { grant, capabilities };
  }
  const last = chain[chain.length - 1]!;
  const holder = parseIdentityId(last.claims.audience);
  if (!holder.ok) throw bad(holder.reason);
  return { holder: publicIdentity(suite, holder.signingKey), capabilities: parent!.capabilities, notBefore, expires, root: chain[0]!.claims.issuer };
}

/** Throws GrantError('expired') outside the chain's validity. */
export function checkValidity(chain: VerifiedChain, nowMs: number): void {
  const now = nowMs / 1000;
  if (now + NOT_BEFORE_SKEW_S < chain.notBefore) throw new GrantError('expired', `the grant is not valid before ${new Date(chain.notBefore * 1000).toISOString()}`);
  if (chain.expires !== undefined && now >= chain.expires) throw new GrantError('expired', `the grant expired at ${new Date(chain.expires * 1000).toISOString()}`);
}

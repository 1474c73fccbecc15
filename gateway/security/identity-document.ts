/**
 * An identity document (docs/spec/security.md, "Identity documents"): an identity's
 * public keys, signed by the identity itself. A CWT (RFC 8392) in an untagged
 * COSE_Sign1, protected header {1: -8, 3: 61, 4: kid} as a grant's, with the claims
 * iss (1, the identity id), iat (6) and cnf (8, RFC 8747) holding the X25519 key as
 * a COSE_Key. The gateway serves its own at GET ["gateway", "identity"]; a client
 * presents its own in the `ident` header so that what is sent to it can be sealed.
 * Browser-safe.
 */
import { base64url, equalBytes, fromBase64url } from './bytes.js';
import { decodeItem, encodeItem, type CborItem } from './cbor-item.js';
import { Alg, CONTENT_FORMAT_CWT, CoseError, Curve, decodeSign1, encodeProtected, encodeSign1, Header, KeyType, sigStructure1 } from './cose.js';
import { kidOf, parseIdentityId, publicIdentity, type Identity, type PublicIdentity } from './identity.js';
import type { SignatureSuite } from './suite.js';

export const IDENT_HEADER = 'ident';
/** The text form is never longer (the document is about 170 bytes). */
const MAX_TEXT = 512;
const Claim = { Iss: 1, Iat: 6, Cnf: 8 } as const;
/** cnf's member for a COSE_Key (RFC 8747 §3.1). */
const CNF_COSE_KEY = 1;
const EMPTY = new Uint8Array(0);

/** A verified document: who, and the key to seal to. */
export interface KnownIdentity extends PublicIdentity {
  readonly agreementKey: Uint8Array;
  /** Seconds since the epoch. */
  readonly issuedAt: number;
  /** The document's text form, as it was read. */
  readonly document: string;
}

/** The document of `identity`, in its text form (base64url of the COSE_Sign1). */
export function identityDocument(identity: Identity, nowMs = Date.now()): string {
  const protectedBytes = encodeProtected(new Map<number, CborItem>([[Header.Alg, Alg.EdDSA], [Header.ContentType, CONTENT_FORMAT_CWT], [Header.Kid, identity.kid]]));
  const coseKey = new Map<number, CborItem>([[1, KeyType.OKP], [-1, Curve.X25519], [-2, identity.agreementKey]]);
  const claims = new Map<number, CborItem>([[Claim.Iss, identity.id], [Claim.Iat, Math.floor(nowMs / 1000)], [Claim.Cnf, new Map<number, CborItem>([[CNF_COSE_KEY, coseKey]])]]);
  const payload = encodeItem(claims);
  const signature = identity.sign(sigStructure1(protectedBytes, EMPTY, payload));
  return base64url(encodeSign1({ protectedBytes, unprotectedHeader: new Map(), payload, signature }, false));
}

export class IdentityDocumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityDocumentError';
  }
}

function bad(message: string): IdentityDocumentError {
  return new IdentityDocumentError(message);
}

/** Reads and verifies a document's text form; throws IdentityDocumentError with the reason. */
export function verifyIdentityDocument(suite: SignatureSuite, text: unknown): KnownIdentity {
  if (typeof text !== 'string' || text.length > MAX_TEXT) throw bad('an identity document is base64url text of at most 512 characters');
  const bytes = fromBase64url(text);
  if (!bytes) throw bad('the identity document is not base64url');
  let sign1;
  try {
    sign1 = decodeSign1(bytes, { tag: 'forbidden' });
  } catch (error) {
    throw bad(`not a COSE_Sign1: ${error instanceof CoseError ? error.message : String(error)}`);
  }
  const header = sign1.protectedHeader;
  if (header.size !== 3 || header.get(Header.Alg) !== Alg.EdDSA || header.get(Header.ContentType) !== CONTENT_FORMAT_CWT) throw bad('the protected header must hold exactly alg EdDSA, content type 61 (CWT) and kid');
  if (sign1.unprotectedHeader.size !== 0 || !sign1.payload || sign1.signature.length !== 64) throw bad('not an identity document\'s COSE_Sign1');
  let claims: CborItem;
  try {
    claims = decodeItem(sign1.payload);
  } catch (error) {
    throw bad(`the claims are not well-formed CBOR (${(error as Error).message})`);
  }
  if (!(claims instanceof Map) || claims.size !== 3) throw bad('the claims must be exactly iss, iat and cnf');
  const iss = claims.get(Claim.Iss);
  const iat = claims.get(Claim.Iat);
  const cnf = claims.get(Claim.Cnf);
  const parsed = typeof iss === 'string' ? parseIdentityId(iss) : undefined;
  if (!parsed?.ok) throw bad(`iss is not an identity id${parsed ? `: ${parsed.reason}` : ''}`);
  if (typeof iat !== 'number' || !Number.isSafeInteger(iat) || iat < 0) throw bad('iat must be a NumericDate');
  const coseKey = cnf instanceof Map && cnf.size === 1 ? cnf.get(CNF_COSE_KEY) : undefined;
  const x = coseKey instanceof Map && coseKey.size === 3 && coseKey.get(1) === KeyType.OKP && coseKey.get(-1) === Curve.X25519 ? coseKey.get(-2) : undefined;
  if (!(x instanceof Uint8Array) || x.length !== 32) throw bad('cnf must hold exactly one COSE_Key: an OKP X25519 key of 32 bytes');
  const kid = header.get(Header.Kid);
  if (!(kid instanceof Uint8Array) || !equalBytes(kid, kidOf(suite, parsed.signingKey))) throw bad('the kid is not the identity\'s');
  if (!suite.verifier(parsed.signingKey)(sigStructure1(sign1.protectedBytes, EMPTY, sign1.payload), sign1.signature)) throw bad('the signature is not the identity\'s (forged or altered)');
  return { ...publicIdentity(suite, parsed.signingKey), agreementKey: x.slice(), issuedAt: iat, document: text };
}

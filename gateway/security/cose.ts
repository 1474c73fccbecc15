/**
 * COSE (RFC 9052, algorithms RFC 9053) as this layer uses it: COSE_Sign1 and its
 * Sig_structure, header labels, and the COSE Key Thumbprint (RFC 9679) of an OKP
 * key. Structures only: signing and verifying are a SignatureSuite's. Browser-safe.
 */
import { CborItemError, decodeItem, encodeItem, Tagged, type CborItem, type CborMap } from './cbor-item.js';

/** Common header parameters (RFC 9052 §3.1). */
export const Header = {
  Alg: 1,
  Crit: 2,
  ContentType: 3,
  Kid: 4,
  Iv: 5,
  PartialIv: 6,
  /** Ephemeral key (RFC 9053 §6.4.1): a COSE_Key; in this profile's compact form, the bare X25519 key. */
  EphemeralKey: -1,
} as const;

/** Algorithms (RFC 9053 §2.2, RFC 9052 registry). */
export const Alg = {
  EdDSA: -8,
  ES256: -7,
  A128GCM: 1,
  A192GCM: 2,
  A256GCM: 3,
  A128KW: -3,
  Direct: -6,
  EcdhEsHkdf256: -25,
  EcdhEsA128KW: -29,
} as const;

/** CBOR tag of COSE_Sign1 (RFC 9052 §2). */
export const COSE_SIGN1_TAG = 18;

/** CoAP content format of application/cwt (RFC 8392 §9.5), the content type of a grant. */
export const CONTENT_FORMAT_CWT = 61;

export interface Sign1 {
  /** The protected header exactly as it travels (the serialized map, or empty). */
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: CborMap;
  readonly unprotectedHeader: CborMap;
  /** null: detached content, supplied by the verifier. */
  readonly payload: Uint8Array | null;
  readonly signature: Uint8Array;
}

export class CoseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoseError';
  }
}

/** The protected header as it is serialized: a zero-length string for an empty map (§3). */
export function encodeProtected(header: CborMap): Uint8Array {
  return header.size === 0 ? new Uint8Array(0) : encodeItem(header);
}

function decodeProtected(bytes: Uint8Array): CborMap {
  if (bytes.length === 0) return new Map();
  const item = decodeItem(bytes);
  if (!(item instanceof Map)) throw new CoseError('the protected header is not a map');
  return item;
}

export interface DecodeSign1Options {
  /** 'optional' (default): tagged 18 or untagged; 'forbidden': untagged only. */
  tag?: 'optional' | 'required' | 'forbidden';
}

/** Reads a COSE_Sign1 (strict CBOR); throws CoseError. */
export function decodeSign1(bytes: Uint8Array, options: DecodeSign1Options = {}): Sign1 {
  let item: CborItem;
  try {
    item = decodeItem(bytes);
  } catch (error) {
    throw new CoseError(error instanceof CborItemError ? `not well-formed CBOR: ${error.message}` : String(error));
  }
  return sign1FromItem(item, options);
}

export function sign1FromItem(item: CborItem, options: DecodeSign1Options = {}): Sign1 {
  const tagRule = options.tag ?? 'optional';
  if (item instanceof Tagged) {
    if (item.tag !== COSE_SIGN1_TAG) throw new CoseError(`tag ${item.tag} is not COSE_Sign1 (18)`);
    if (tagRule === 'forbidden') throw new CoseError('a tag where an untagged COSE_Sign1 belongs');
    item = item.value;
  } else if (tagRule === 'required') {
    throw new CoseError('COSE_Sign1 without its tag 18');
  }
  if (!Array.isArray(item) || item.length !== 4) throw new CoseError('a COSE_Sign1 is an array of 4');
  const [protectedBytes, unprotected, payload, signature] = item;
  if (!(protectedBytes instanceof Uint8Array)) throw new CoseError('the protected header must be a byte string');
  if (!(unprotected instanceof Map)) throw new CoseError('the unprotected header must be a map');
  if (payload !== null && !(payload instanceof Uint8Array)) throw new CoseError('the payload must be a byte string or nil');
  if (!(signature instanceof Uint8Array)) throw new CoseError('the signature must be a byte string');
  let protectedHeader: CborMap;
  try {
    protectedHeader = decodeProtected(protectedBytes);
  } catch (error) {
    throw error instanceof CoseError ? error : new CoseError(`the protected header is not well-formed: ${(error as Error).message}`);
  }
  // §3: a label may not be in both buckets.
  for (const label of unprotected.keys()) {
    if (protectedHeader.has(label)) throw new CoseError(`header ${String(label)} is both protected and unprotected`);
  }
  return { protectedBytes, protectedHeader, unprotectedHeader: unprotected, payload, signature };
}

export function encodeSign1(sign1: Omit<Sign1, 'protectedHeader'>, tagged: boolean): Uint8Array {
  const array: CborItem[] = [sign1.protectedBytes, sign1.unprotectedHeader, sign1.payload, sign1.signature];
  return encodeItem(tagged ? new Tagged(COSE_SIGN1_TAG, array) : array);
}

/**
 * The bytes a COSE_Sign1 signs (§4.4): ["Signature1", body_protected, external_aad,
 * payload]. An empty protected map counts as the zero-length string however it was
 * serialized, as the cose-wg examples expect (sign-pass-01).
 */
export function sigStructure1(protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  const bodyProtected = protectedBytes.length === 1 && protectedBytes[0] === 0xa0 ? new Uint8Array(0) : protectedBytes;
  return encodeItem(['Signature1', bodyProtected, externalAad, payload]);
}

/** A header parameter, protected first. */
export function headerValue(sign1: Sign1, label: number): CborItem {
  return sign1.protectedHeader.has(label) ? sign1.protectedHeader.get(label) : sign1.unprotectedHeader.get(label);
}

/** COSE key types and curves (RFC 9053 §7). */
export const KeyType = { OKP: 1, EC2: 2 } as const;
export const Curve = { X25519: 4, Ed25519: 6 } as const;

/**
 * The input of the COSE Key Thumbprint (RFC 9679 §3) of an OKP key: its required
 * parameters kty (1), crv (-1) and x (-2), deterministically encoded; hash it with
 * SHA-256 for the thumbprint.
 */
export function okpThumbprintInput(curve: number, x: Uint8Array): Uint8Array {
  return encodeItem(new Map<number, CborItem>([[1, KeyType.OKP], [-1, curve], [-2, x]]));
}

/**
 * Signing and reading the `sig` header (docs/spec/security.md, "Signed
 * dispatches"): an untagged COSE_Sign1 whose protected header holds exactly the
 * algorithm (EdDSA), the signer's kid and its sequence number as a Partial IV, with
 * an empty unprotected header, detached content (the signed content of
 * signed-content.ts) and a 64-byte Ed25519 signature. Anything else is refused:
 * one signature, one encoding. Browser-safe.
 */
import type { Dispatch } from '../jstp/dispatch.js';
import { base64url, fromBase64url, toHex } from './bytes.js';
import { KID_BYTES, type Identity } from './identity.js';
import { toBeSigned } from './signed-content.js';
import type { VerifyFunction } from './suite.js';

export const SIG_HEADER = 'sig';
/** Sequence numbers fit the 5-byte Partial IV of OSCORE (RFC 8613 §6.1). */
export const MAX_SEQUENCE = 2 ** 40 - 1;
/** The text form of a signature header is never longer (the COSE_Sign1 is about 90 bytes). */
const MAX_SIG_TEXT = 256;

/** A sequence number as a Partial IV: big-endian, no leading zero bytes, 0 as one zero byte. */
export function partialIv(sequence: number): Uint8Array {
  if (!Number.isSafeInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) throw new RangeError(`sequence ${sequence} is out of range`);
  const bytes: number[] = [];
  let value = sequence;
  do {
    bytes.unshift(value % 256);
    value = Math.floor(value / 256);
  } while (value > 0);
  return Uint8Array.from(bytes);
}

/** The protected header of a dispatch signature, deterministically encoded: {1: -8, 4: kid, 6: piv}. */
export function signatureProtected(kid: Uint8Array, sequence: number): Uint8Array {
  const piv = partialIv(sequence);
  const out = new Uint8Array(3 + 2 + kid.length + 2 + piv.length);
  let p = 0;
  out[p++] = 0xa3; // map(3)
  out[p++] = 0x01; // alg
  out[p++] = 0x27; // -8 EdDSA
  out[p++] = 0x04; // kid
  out[p++] = 0x40 | kid.length;
  out.set(kid, p);
  p += kid.length;
  out[p++] = 0x06; // Partial IV
  out[p++] = 0x40 | piv.length;
  out.set(piv, p);
  return out;
}

/** The COSE_Sign1 bytes: [protected, {}, nil, signature]. */
function encodeSignature(protectedBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 1 + protectedBytes.length + 1 + 1 + 2 + signature.length);
  let p = 0;
  out[p++] = 0x84;
  out[p++] = 0x40 | protectedBytes.length;
  out.set(protectedBytes, p);
  p += protectedBytes.length;
  out[p++] = 0xa0;
  out[p++] = 0xf6;
  out[p++] = 0x58;
  out[p++] = signature.length;
  out.set(signature, p);
  return out;
}

export interface SignedParts {
  /** The `sig` header's text. */
  readonly sig: string;
  /** The protected header: an answer to this dispatch signs it as its external_aad. */
  readonly protectedBytes: Uint8Array;
}

/** Signs a dispatch as `sequence`; `externalAad` binds an answer to its request. */
export function signDispatch(identity: Identity, dispatch: Dispatch, sequence: number, externalAad?: Uint8Array): SignedParts {
  const protectedBytes = signatureProtected(identity.kid, sequence);
  const signature = identity.sign(toBeSigned(dispatch, protectedBytes, externalAad));
  return { sig: base64url(encodeSignature(protectedBytes, signature)), protectedBytes };
}

/** A `sig` header read, not yet verified. */
export interface DispatchSignature {
  readonly kid: Uint8Array;
  readonly kidHex: string;
  readonly sequence: number;
  readonly protectedBytes: Uint8Array;
  readonly signature: Uint8Array;
}

export type SignatureReading = { ok: true; signature: DispatchSignature } | { ok: false; reason: string };

/**
 * Reads a `sig` header; every deviation from the profile is a reason to refuse. The
 * profile allows one layout only (deterministic CBOR of exactly these fields), so it
 * is checked byte by byte rather than decoded:
 * 84 | 40+n <a3 01 27 04 48 kid(8) 06 40+p piv(p)> | a0 | f6 | 58 40 signature(64).
 */
export function readSignature(value: unknown): SignatureReading {
  if (typeof value !== 'string') return { ok: false, reason: 'the sig header is not text' };
  if (value.length > MAX_SIG_TEXT) return { ok: false, reason: 'the sig header is too long' };
  const bytes = fromBase64url(value);
  if (!bytes) return { ok: false, reason: 'the sig header is not base64url' };
  if (bytes.length < 2 || bytes[0] !== 0x84) return { ok: false, reason: 'the sig header is not a COSE_Sign1 (an untagged array of 4)' };
  const protectedLength = bytes[1]! - 0x40;
  if (protectedLength < 16 || protectedLength > 20) return { ok: false, reason: 'the protected header must hold exactly alg EdDSA, kid and Partial IV' };
  const p = 2;
  const pivLength = protectedLength - 15;
  if (
    bytes[p] !== 0xa3 || bytes[p + 1] !== 0x01 || bytes[p + 2] !== 0x27 || bytes[p + 3] !== 0x04 || bytes[p + 4] !== 0x40 + KID_BYTES ||
    bytes[p + 5 + KID_BYTES] !== 0x06 || bytes[p + 6 + KID_BYTES] !== 0x40 + pivLength
  ) {
    return { ok: false, reason: 'the protected header must hold exactly alg EdDSA, an 8-byte kid and a Partial IV, in that order' };
  }
  const piv = p + 7 + KID_BYTES;
  if (pivLength > 1 && bytes[piv] === 0) return { ok: false, reason: 'the Partial IV must be 1 to 5 bytes without leading zeros' };
  const rest = p + protectedLength;
  if (bytes.length !== rest + 4 + 64) return { ok: false, reason: 'the sig header has the wrong length for a COSE_Sign1 with a 64-byte signature' };
  if (bytes[rest] !== 0xa0) return { ok: false, reason: 'the unprotected header must be empty' };
  if (bytes[rest + 1] !== 0xf6) return { ok: false, reason: 'the payload must be detached (nil)' };
  if (bytes[rest + 2] !== 0x58 || bytes[rest + 3] !== 0x40) return { ok: false, reason: 'an Ed25519 signature is 64 bytes' };
  let sequence = 0;
  for (let i = 0; i < pivLength; i++) sequence = sequence * 256 + bytes[piv + i]!;
  const kid = bytes.subarray(p + 5, p + 5 + KID_BYTES);
  return {
    ok: true,
    signature: { kid, kidHex: toHex(kid), sequence, protectedBytes: bytes.subarray(p, rest), signature: bytes.subarray(rest + 4) },
  };
}

/** True when the signature is `verify`'s key's over this dispatch (and `externalAad`). */
export function verifyDispatch(verify: VerifyFunction, dispatch: Dispatch, signature: DispatchSignature, externalAad?: Uint8Array): boolean {
  let message: Uint8Array;
  try {
    message = toBeSigned(dispatch, signature.protectedBytes, externalAad);
  } catch {
    return false;
  }
  return verify(message, signature.signature);
}

/**
 * COSE encryption structures (RFC 9052 §5, algorithms RFC 9053): COSE_Encrypt0 and
 * COSE_Encrypt with their recipients, the Enc_structure an AEAD authenticates, and
 * the COSE_KDF_Context that key agreement feeds HKDF (RFC 9053 §5.2). Structures
 * only: the keys and ciphers are a SealingSuite's, the profile is seal.ts's.
 * Browser-safe.
 */
import { CborItemError, decodeItem, encodeItem, Tagged, type CborItem, type CborMap } from './cbor-item.js';
import { CoseError } from './cose.js';

/** CBOR tags (RFC 9052 §2). */
export const COSE_ENCRYPT0_TAG = 16;
export const COSE_ENCRYPT_TAG = 96;

export interface CoseRecipient {
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: CborMap;
  readonly unprotectedHeader: CborMap;
  /** The wrapped key; empty for direct key agreement. */
  readonly ciphertext: Uint8Array;
}

export interface CoseEncrypted {
  readonly kind: 'Encrypt0' | 'Encrypt';
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: CborMap;
  readonly unprotectedHeader: CborMap;
  /** The AEAD's output: ciphertext then tag. */
  readonly ciphertext: Uint8Array;
  /** COSE_Encrypt only. */
  readonly recipients: readonly CoseRecipient[];
}

function decodeProtected(bytes: Uint8Array, mapOrder: 'sorted' | 'any'): CborMap {
  if (bytes.length === 0) return new Map();
  const item = decodeItem(bytes, { mapOrder });
  if (!(item instanceof Map)) throw new CoseError('the protected header is not a map');
  return item;
}

function layer(array: CborItem[], where: string, mapOrder: 'sorted' | 'any'): { protectedBytes: Uint8Array; protectedHeader: CborMap; unprotectedHeader: CborMap; ciphertext: Uint8Array } {
  const [protectedBytes, unprotected, ciphertext] = array;
  if (!(protectedBytes instanceof Uint8Array)) throw new CoseError(`${where}: the protected header must be a byte string`);
  if (!(unprotected instanceof Map)) throw new CoseError(`${where}: the unprotected header must be a map`);
  if (!(ciphertext instanceof Uint8Array)) throw new CoseError(`${where}: the ciphertext must be a byte string (detached content is not supported)`);
  let protectedHeader: CborMap;
  try {
    protectedHeader = decodeProtected(protectedBytes, mapOrder);
  } catch (error) {
    throw error instanceof CoseError ? error : new CoseError(`${where}: the protected header is not well-formed: ${(error as Error).message}`);
  }
  for (const label of unprotected.keys()) {
    if (protectedHeader.has(label)) throw new CoseError(`${where}: header ${String(label)} is both protected and unprotected`);
  }
  return { protectedBytes, protectedHeader, unprotectedHeader: unprotected, ciphertext };
}

export interface DecodeEncryptedOptions {
  /** Map keys in any order (the working group's examples), or deterministic only (default). */
  readonly mapOrder?: 'sorted' | 'any';
}

/**
 * Reads a COSE_Encrypt0 (3 elements, or tag 16) or COSE_Encrypt (4, or tag 96) with
 * one level of recipients. Throws CoseError for anything else.
 */
export function decodeEncrypted(bytes: Uint8Array, options: DecodeEncryptedOptions = {}): CoseEncrypted {
  const mapOrder = options.mapOrder ?? 'sorted';
  let item: CborItem;
  try {
    item = decodeItem(bytes, { mapOrder });
  } catch (error) {
    throw new CoseError(error instanceof CborItemError ? `not well-formed CBOR: ${error.message}` : String(error));
  }
  let tag: number | undefined;
  if (item instanceof Tagged) {
    tag = item.tag;
    if (tag !== COSE_ENCRYPT0_TAG && tag !== COSE_ENCRYPT_TAG) throw new CoseError(`tag ${tag} is neither COSE_Encrypt0 (16) nor COSE_Encrypt (96)`);
    item = item.value;
  }
  if (!Array.isArray(item) || (item.length !== 3 && item.length !== 4)) throw new CoseError('a COSE_Encrypt0 is an array of 3, a COSE_Encrypt of 4');
  const kind = item.length === 3 ? 'Encrypt0' : 'Encrypt';
  if (tag !== undefined && (tag === COSE_ENCRYPT0_TAG) !== (kind === 'Encrypt0')) throw new CoseError(`tag ${tag} on a structure of ${item.length} elements`);
  const body = layer(item, kind, mapOrder);
  const recipients: CoseRecipient[] = [];
  if (kind === 'Encrypt') {
    const list = item[3];
    if (!Array.isArray(list) || list.length === 0) throw new CoseError('a COSE_Encrypt lists one recipient or more');
    for (const [index, recipient] of list.entries()) {
      if (!Array.isArray(recipient) || recipient.length !== 3) throw new CoseError(`recipient ${index + 1}: a COSE_recipient is an array of 3 (nested recipients are not supported)`);
      recipients.push(layer(recipient, `recipient ${index + 1}`, mapOrder));
    }
  }
  return { kind, ...body, recipients };
}

/** A header parameter, protected first. */
export function encryptedHeader(layer: { protectedHeader: CborMap; unprotectedHeader: CborMap }, label: number): CborItem {
  return layer.protectedHeader.has(label) ? layer.protectedHeader.get(label) : layer.unprotectedHeader.get(label);
}

/**
 * The AAD of a COSE AEAD (RFC 9052 §5.3): ["Encrypt0" or "Encrypt", protected,
 * external_aad]. An empty protected map counts as the zero-length string however it
 * was serialized.
 */
export function encStructure(context: 'Encrypt0' | 'Encrypt', protectedBytes: Uint8Array, externalAad: Uint8Array): Uint8Array {
  const bodyProtected = protectedBytes.length === 1 && protectedBytes[0] === 0xa0 ? new Uint8Array(0) : protectedBytes;
  return encodeItem([context, bodyProtected, externalAad]);
}

/** PartyUInfo and PartyVInfo of a COSE_KDF_Context: [identity, nonce, other], nil where absent. */
export interface PartyInfo {
  readonly identity?: Uint8Array;
  readonly nonce?: Uint8Array;
  readonly other?: Uint8Array;
}

export interface KdfContextInput {
  /** The algorithm the derived key is for (the content's, or the key wrap's). */
  readonly algorithm: number;
  readonly partyU?: PartyInfo;
  readonly partyV?: PartyInfo;
  /** SuppPubInfo: the key's length in bits, the layer's protected header, and optional other data. */
  readonly keyDataLength: number;
  readonly protectedBytes: Uint8Array;
  readonly other?: Uint8Array;
}

function party(info: PartyInfo | undefined): CborItem[] {
  return [info?.identity ?? null, info?.nonce ?? null, info?.other ?? null];
}

/** The COSE_KDF_Context (RFC 9053 §5.2), deterministically encoded: HKDF's info. */
export function kdfContext(input: KdfContextInput): Uint8Array {
  const supp: CborItem[] = [input.keyDataLength, input.protectedBytes];
  if (input.other !== undefined) supp.push(input.other);
  return encodeItem([input.algorithm, party(input.partyU), party(input.partyV), supp]);
}

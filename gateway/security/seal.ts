/**
 * The `sealed` header's cryptography (docs/spec/security.md, "Sealed dispatches"):
 * X25519 ephemeral-static key agreement, HKDF-SHA256 over a COSE_KDF_Context,
 * AES-128-GCM for the content and AES-128 key wrap for each recipient after the
 * first. Every content key is used once (it is new with each ephemeral key), so its
 * nonce is all zeros; the answers to one request, several under one key, are numbered
 * and the number is their nonce. One structure, strictly one encoding:
 *
 *   [h'a10101', {4: kid, -1: E}, ciphertext]                     one recipient (COSE_Encrypt0)
 *   [h'a10101', {4: kid, -1: E}, ciphertext, [[kid, wrapped]...]] more (the compact COSE_Encrypt)
 *   [h'a10101', {6: partial IV}, ciphertext]                     an answer, keyed by its request
 *
 * Works on bytes: which headers go inside is sealed-dispatch.ts's. Browser-safe.
 */
import { equalBytes, toHex, utf8Bytes } from './bytes.js';
import { decodeItem, encodeItem, type CborItem } from './cbor-item.js';
import { Alg, Header } from './cose.js';
import { encStructure, kdfContext } from './cose-encrypt.js';
import { partialIv } from './dispatch-signature.js';
import { KID_BYTES } from './identity.js';
import type { AgreeFunction, SealingSuite } from './suite.js';

/** The protected header of every sealed structure: {1: 1}, alg A128GCM. */
export const SEAL_PROTECTED = Uint8Array.of(0xa1, 0x01, 0x01);
export const KEY_BYTES = 16;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const WRAPPED_BYTES = KEY_BYTES + 8;
/** Recipients of one sealed dispatch; a fan-out to more is sealed in several. */
export const MAX_RECIPIENTS = 64;
const EMPTY = new Uint8Array(0);
/** The nonce of a key used once. */
const ZERO_NONCE = new Uint8Array(NONCE_BYTES);
const ANSWER_LABEL = utf8Bytes('answer');

/** Whom a dispatch is sealed to: an identity's kid and its X25519 key. */
export interface SealRecipient {
  readonly kid: Uint8Array;
  readonly kidHex: string;
  readonly agreementKey: Uint8Array;
}

/** What opens the answers to one sealed request (both ends derive it). */
export interface AnswerKeys {
  readonly key: Uint8Array;
}

export type SealFailure = 'malformed' | 'not-recipient' | 'unauthentic';
export type Opened<T> = ({ ok: true } & T) | { ok: false; failure: SealFailure; reason: string };

/** HKDF-SHA256 over the COSE_KDF_Context of this profile (spec: "Keys"). */
function derive(suite: SealingSuite, ikm: Uint8Array, algorithm: number, ephemeralKey: Uint8Array, kid: Uint8Array | undefined, bytes: number, other?: Uint8Array, protectedBytes = SEAL_PROTECTED): Uint8Array {
  const info = kdfContext({
    algorithm,
    partyU: { other: ephemeralKey },
    ...(kid ? { partyV: { identity: kid } } : {}),
    keyDataLength: bytes * 8,
    protectedBytes,
    ...(other ? { other } : {}),
  });
  return suite.hkdf(ikm, EMPTY, info, bytes);
}

function answerKeys(suite: SealingSuite, shared: Uint8Array, ephemeralKey: Uint8Array, kid: Uint8Array): AnswerKeys {
  return { key: derive(suite, shared, Alg.A128GCM, ephemeralKey, kid, KEY_BYTES, ANSWER_LABEL) };
}

function aad(multiple: boolean, externalAad: Uint8Array): Uint8Array {
  return encStructure(multiple ? 'Encrypt' : 'Encrypt0', SEAL_PROTECTED, externalAad);
}

export interface Sealed {
  /** The CBOR item of the `sealed` header. */
  readonly bytes: Uint8Array;
  /** Set when asked for (one recipient): what the answers to this dispatch are sealed with. */
  readonly answerKeys?: AnswerKeys;
}

export interface SealOptions {
  /** The ephemeral key pair (fresh by default; fixed only for test vectors). */
  readonly ephemeral?: { publicKey: Uint8Array; agree: AgreeFunction };
  /** Derive the answer keys too (a request: its answers come back sealed). */
  readonly answers?: boolean;
}

/**
 * Seals `plaintext` to `recipients` (1 to MAX_RECIPIENTS) with one fresh ephemeral key.
 * `externalAad(more)` gives the external_aad; `more` is the recipients list's bytes
 * when there is more than one (so the list is authenticated too). Throws when a
 * recipient's key is not a usable X25519 key.
 */
export function seal(suite: SealingSuite, recipients: readonly SealRecipient[], plaintext: Uint8Array, externalAad: (more: Uint8Array | undefined) => Uint8Array, options: SealOptions = {}): Sealed {
  const ephemeral = options.ephemeral ?? suite.ephemeral();
  if (recipients.length === 0 || recipients.length > MAX_RECIPIENTS) throw new RangeError(`a sealed dispatch has 1 to ${MAX_RECIPIENTS} recipients`);
  const E = ephemeral.publicKey;
  const first = recipients[0]!;
  const shared = ephemeral.agree(first.agreementKey, true);
  const key = derive(suite, shared, Alg.A128GCM, E, first.kid, KEY_BYTES);
  let more: CborItem[] | undefined;
  let moreBytes: Uint8Array | undefined;
  if (recipients.length > 1) {
    more = recipients.slice(1).map((recipient) => {
      const kek = derive(suite, ephemeral.agree(recipient.agreementKey, true), Alg.A128KW, E, recipient.kid, KEY_BYTES, undefined, EMPTY);
      return [recipient.kid, suite.aesKeyWrap(kek, key)];
    });
    moreBytes = encodeItem(more);
  }
  const ciphertext = suite.aesGcmSeal(key, ZERO_NONCE, aad(more !== undefined, externalAad(moreBytes)), plaintext);
  const unprotected = new Map<number, CborItem>([[Header.Kid, first.kid], [Header.EphemeralKey, E]]);
  const structure: CborItem[] = [SEAL_PROTECTED, unprotected, ciphertext];
  if (more) structure.push(more);
  return { bytes: encodeItem(structure), ...(more || !options.answers ? {} : { answerKeys: answerKeys(suite, shared, E, first.kid) }) };
}

/** A sealed structure read, not yet opened. */
export interface SealedParts {
  readonly kind: 'dispatch' | 'answer';
  readonly ciphertext: Uint8Array;
  /** Dispatch form. */
  readonly kid?: Uint8Array;
  readonly ephemeralKey?: Uint8Array;
  readonly more?: readonly { kid: Uint8Array; wrapped: Uint8Array }[];
  readonly moreBytes?: Uint8Array;
  /** Answer form: the answer's number. */
  readonly answer?: number;
  readonly partialIv?: Uint8Array;
}

type Reading = { ok: true; parts: SealedParts } | { ok: false; failure: 'malformed'; reason: string };

function malformed(reason: string): { ok: false; failure: 'malformed'; reason: string } {
  return { ok: false, failure: 'malformed', reason };
}

function isBytes(value: CborItem, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length);
}

/** Reads a `sealed` item; anything but this profile's exact layout is malformed. */
export function readSealed(bytes: Uint8Array): Reading {
  let item: CborItem;
  try {
    item = decodeItem(bytes);
  } catch (error) {
    return malformed(`not well-formed deterministic CBOR: ${(error as Error).message}`);
  }
  if (!Array.isArray(item) || (item.length !== 3 && item.length !== 4)) return malformed('a sealed header is an array of 3 or 4');
  const [protectedBytes, unprotected, ciphertext, more] = item;
  if (!isBytes(protectedBytes) || !equalBytes(protectedBytes, SEAL_PROTECTED)) return malformed('the protected header must be exactly {1: 1} (A128GCM)');
  if (!(unprotected instanceof Map)) return malformed('the unprotected header must be a map');
  if (!isBytes(ciphertext) || ciphertext.length < TAG_BYTES) return malformed('the ciphertext must be a byte string of 16 bytes or more');
  if (unprotected.size === 1 && unprotected.has(Header.PartialIv)) {
    const piv = unprotected.get(Header.PartialIv);
    if (!isBytes(piv) || piv.length < 1 || piv.length > 5 || (piv.length > 1 && piv[0] === 0)) return malformed('a Partial IV is 1 to 5 bytes without leading zeros');
    if (item.length !== 3) return malformed('an answer has no further recipients');
    let answer = 0;
    for (const byte of piv) answer = answer * 256 + byte;
    return { ok: true, parts: { kind: 'answer', ciphertext, answer, partialIv: piv } };
  }
  const kid = unprotected.get(Header.Kid);
  const ephemeralKey = unprotected.get(Header.EphemeralKey);
  if (unprotected.size !== 2 || !isBytes(kid, KID_BYTES) || !isBytes(ephemeralKey, 32)) return malformed('the unprotected header must hold exactly an 8-byte kid (4) and a 32-byte ephemeral key (-1)');
  if (item.length === 3) return { ok: true, parts: { kind: 'dispatch', ciphertext, kid, ephemeralKey } };
  if (!Array.isArray(more) || more.length === 0 || more.length >= MAX_RECIPIENTS) return malformed(`further recipients are a list of 1 to ${MAX_RECIPIENTS - 1}`);
  const list: { kid: Uint8Array; wrapped: Uint8Array }[] = [];
  for (const entry of more) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isBytes(entry[0]!, KID_BYTES) || !isBytes(entry[1]!, WRAPPED_BYTES)) return malformed('a further recipient is [kid (8 bytes), wrapped key (24 bytes)]');
    list.push({ kid: entry[0] as Uint8Array, wrapped: entry[1] as Uint8Array });
  }
  return { ok: true, parts: { kind: 'dispatch', ciphertext, kid, ephemeralKey, more: list, moreBytes: encodeItem(more) } };
}

/** The kids a sealed dispatch names, in hex (for logs: what a relay sees). */
export function recipientsOf(parts: SealedParts): string[] {
  if (parts.kind !== 'dispatch') return [];
  return [toHex(parts.kid!), ...(parts.more ?? []).map((entry) => toHex(entry.kid))];
}

/** Whom to open as: a kid and its agreeing function. */
export interface OpeningKey {
  readonly kid: Uint8Array;
  readonly agree: AgreeFunction;
}

/**
 * Opens a sealed dispatch as `own` (with `answers`, its answer keys too). Every kid is
 * compared in full whatever the outcome, so the time taken says nothing about which
 * entry is ours.
 */
export function open(suite: SealingSuite, own: OpeningKey, parts: SealedParts, externalAad: (more: Uint8Array | undefined) => Uint8Array, answers = false): Opened<{ plaintext: Uint8Array; answerKeys?: AnswerKeys }> {
  if (parts.kind !== 'dispatch') return { ok: false, failure: 'malformed', reason: 'an answer is opened with its request\'s keys' };
  const E = parts.ephemeralKey!;
  let index = equalBytes(parts.kid!, own.kid) ? 0 : -1;
  for (let i = 0; i < (parts.more?.length ?? 0); i++) {
    if (equalBytes(parts.more![i]!.kid, own.kid) && index === -1) index = i + 1;
  }
  if (index === -1) return { ok: false, failure: 'not-recipient', reason: `sealed to ${recipientsOf(parts).join(', ')}, not to ${toHex(own.kid)}` };
  let shared: Uint8Array;
  try {
    shared = own.agree(E);
  } catch {
    return { ok: false, failure: 'unauthentic', reason: 'the ephemeral key is not a usable X25519 key' };
  }
  let key: Uint8Array | undefined;
  if (index === 0) key = derive(suite, shared, Alg.A128GCM, E, own.kid, KEY_BYTES);
  else {
    const kek = derive(suite, shared, Alg.A128KW, E, own.kid, KEY_BYTES, undefined, EMPTY);
    key = suite.aesKeyUnwrap(kek, parts.more![index - 1]!.wrapped);
    if (!key || key.length !== KEY_BYTES) return { ok: false, failure: 'unauthentic', reason: 'the wrapped key does not unwrap: tampered, or not for this key' };
  }
  const plaintext = suite.aesGcmOpen(key, ZERO_NONCE, aad(parts.more !== undefined, externalAad(parts.moreBytes)), parts.ciphertext);
  if (!plaintext) return { ok: false, failure: 'unauthentic', reason: 'the sealed content does not authenticate: tampered, or not for this key' };
  return { ok: true, plaintext, ...(parts.more || !answers ? {} : { answerKeys: answerKeys(suite, shared, E, own.kid) }) };
}

/** An answer's nonce: its Partial IV right-aligned in 12 zero bytes (OSCORE's, RFC 8613 §5.2, with no common IV). */
function answerNonce(piv: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(piv, NONCE_BYTES - piv.length);
  return nonce;
}

/** Seals answer number `answer` (0, 1, ... up to 2^40 - 1: never twice for one request). */
export function sealAnswer(suite: SealingSuite, keys: AnswerKeys, answer: number, plaintext: Uint8Array, externalAad: Uint8Array): Uint8Array {
  const piv = partialIv(answer);
  const ciphertext = suite.aesGcmSeal(keys.key, answerNonce(piv), aad(false, externalAad), plaintext);
  return encodeItem([SEAL_PROTECTED, new Map<number, CborItem>([[Header.PartialIv, piv]]), ciphertext]);
}

export function openAnswer(suite: SealingSuite, keys: AnswerKeys, parts: SealedParts, externalAad: Uint8Array): Opened<{ plaintext: Uint8Array }> {
  if (parts.kind !== 'answer') return { ok: false, failure: 'malformed', reason: 'an answer is sealed with a Partial IV and no key of its own' };
  const plaintext = suite.aesGcmOpen(keys.key, answerNonce(parts.partialIv!), aad(false, externalAad), parts.ciphertext);
  if (!plaintext) return { ok: false, failure: 'unauthentic', reason: 'the sealed answer does not authenticate: tampered, or not for this request' };
  return { ok: true, plaintext };
}

/** For tests and vectors: the first recipient's content key of a sealing, and the KDF context it came from. */
export function contentKeyFor(suite: SealingSuite, shared: Uint8Array, ephemeralKey: Uint8Array, kid: Uint8Array): { key: Uint8Array; info: Uint8Array } {
  const key = derive(suite, shared, Alg.A128GCM, ephemeralKey, kid, KEY_BYTES);
  const info = kdfContext({ algorithm: Alg.A128GCM, partyU: { other: ephemeralKey }, partyV: { identity: kid }, keyDataLength: 128, protectedBytes: SEAL_PROTECTED });
  return { key, info };
}


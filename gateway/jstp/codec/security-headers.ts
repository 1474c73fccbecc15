/**
 * The security headers of a dispatch (docs/spec/security.md) in the two wire forms.
 * JSON carries each as text: base64url (no padding) of one CBOR data item. Compact
 * CBOR carries that item itself under a negative key, the range JSTP reserves for
 * the security layer: -1 `sig` (a COSE_Sign1), -2 `grant` (a grant chain), -3
 * `sealed` (a sealed dispatch's COSE structure), -4 `ident` (an identity document).
 * A text value that is not base64url of one well-formed CBOR array stays a text
 * header in CBOR too, so every dispatch reads back as it was.
 */
import { base64url } from './cbor-read.js';
import { CborScanner, DEFAULT_CBOR_LIMITS } from './cbor-scan.js';

export interface SecurityHeader {
  readonly name: string;
  /** The negative CBOR key. */
  readonly key: number;
}

export const SECURITY_HEADERS: readonly SecurityHeader[] = [
  { name: 'sig', key: -1 },
  { name: 'grant', key: -2 },
  { name: 'sealed', key: -3 },
  { name: 'ident', key: -4 },
];

const BY_NAME: ReadonlyMap<string, SecurityHeader> = new Map(SECURITY_HEADERS.map((header) => [header.name, header]));
const BY_KEY: ReadonlyMap<number, SecurityHeader> = new Map(SECURITY_HEADERS.map((header) => [header.key, header]));

export function securityHeaderNamed(name: string): SecurityHeader | undefined {
  return BY_NAME.get(name);
}

export function securityHeaderKeyed(key: number): SecurityHeader | undefined {
  return BY_KEY.get(key);
}

/** The JSON text form of an item's bytes. */
export function securityHeaderText(item: Uint8Array): string {
  return base64url(item);
}

const scanner = new CborScanner(DEFAULT_CBOR_LIMITS);
const B64: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * The CBOR item a header's text form stands for: the bytes when `value` is
 * canonical unpadded base64url of exactly one well-formed CBOR array, else undefined.
 */
export function securityHeaderItem(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length < 2 || value.length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Math.floor((value.length * 3) / 4));
  let bits = 0;
  let accumulator = 0;
  let o = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const sextet = code < 128 ? B64[code]! : -1;
    if (sextet < 0) return undefined;
    accumulator = (accumulator << 6) | sextet;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[o++] = (accumulator >>> bits) & 0xff;
    }
    accumulator &= (1 << bits) - 1;
  }
  // Leftover bits must be zero: one item, one text.
  if (accumulator !== 0) return undefined;
  if (bytes[0]! >> 5 !== 4) return undefined;
  try {
    scanner.reset();
    if (scanner.scan(bytes, 0, bytes.length) !== bytes.length) return undefined;
  } catch {
    return undefined;
  }
  return bytes;
}

/**
 * Byte helpers the security layer shares between Node and browsers (no Node
 * imports): base64url (RFC 4648 §5, no padding), hex, concatenation and a
 * comparison whose time does not depend on where two byte strings differ.
 */
import { base64url as portableBase64url } from '../jstp/codec/cbor-read.js';

interface BufferLike {
  from(buffer: ArrayBufferLike, offset: number, length: number): { toString(encoding: 'base64url' | 'hex'): string };
}
/** Node's Buffer when there is one: its encoders are native. Browsers use the portable ones. */
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  return NodeBuffer ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url') : portableBase64url(bytes);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_VALUE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < B64.length; i++) table[B64.charCodeAt(i)] = i;
  return table;
})();

/**
 * Decodes unpadded base64url; undefined for anything else (padding, other
 * alphabets, a length no encoder writes, non-zero trailing bits), so one byte string
 * has exactly one text form.
 */
export function fromBase64url(text: string): Uint8Array | undefined {
  const rest = text.length % 4;
  if (rest === 1) return undefined;
  const out = new Uint8Array(Math.floor(text.length / 4) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let i = 0;
  for (; i + 4 <= text.length; i += 4) {
    const n = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) | (sextet(text, i + 2) << 6) | sextet(text, i + 3);
    if (n < 0) return undefined;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (rest >= 2) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = rest === 3 ? sextet(text, i + 2) : 0;
    if ((a | b | c) < 0) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6);
    // Bits past the last byte must be zero, or two texts would read as the same bytes.
    if (rest === 2 ? n & 0xffff : n & 0xff) return undefined;
    out[o++] = n >>> 16;
    if (rest === 3) out[o++] = (n >>> 8) & 0xff;
  }
  return out;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  // A negative value makes every OR it enters negative.
  return code < 128 ? B64_VALUE[code]! : -0x1000000;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  let out = '';
  for (const byte of bytes) out += HEX[byte]!;
  return out;
}

/** Lower- or upper-case hex, any whitespace ignored; throws on anything else. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new TypeError('not a hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * True when both hold the same bytes. The loop always runs over the whole input, so
 * its time tells an observer the length and nothing about the first difference.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/**
 * A deterministic CBOR writer for JSON-shaped values (RFC 8949 §4.2.1): shortest
 * heads, definite lengths, map keys sorted by their encoded bytes, floats in the
 * shortest of half/single/double that keeps the value exactly.
 *
 * Written here rather than with cbor-x's Encoder because cbor-x 1.6 writes integers
 * at or above 2^32 (every millisecond timestamp) as float64, has no exact shortest
 * float form, and writes object keys in insertion order.
 *
 * Values follow JSON.stringify's data model so the CBOR and JSON forms of a dispatch
 * agree: `toJSON` is honoured, `undefined`/functions/symbols are skipped in objects and
 * become null in arrays, NaN and infinities become null, bigint is refused. One
 * addition: a Uint8Array is written as a byte string.
 */
import { errors } from '../errors.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TWO_32 = 0x1_0000_0000;

/** Maximum nesting the writer produces; matches the decoder's default limit. */
export const MAX_WRITE_DEPTH = 32;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half-float bits for `value` when a half float holds it exactly, otherwise -1. */
export function halfBits(value: number): number {
  if (Math.fround(value) !== value) return -1;
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127;
  const mantissa = bits & 0x7fffff;
  if (exponent >= -14 && exponent <= 15) {
    if (mantissa & 0x1fff) return -1;
    return sign | ((exponent + 15) << 10) | (mantissa >>> 13);
  }
  if (exponent >= -24 && exponent < -14) {
    // Subnormal half: the implicit leading 1 moves into the mantissa.
    const shift = 13 + (-14 - exponent);
    const full = 0x800000 | mantissa;
    if (full & ((1 << shift) - 1)) return -1;
    return sign | (full >>> shift);
  }
  return -1;
}

/** UTF-8 length of a JS string; a lone surrogate counts as U+FFFD (3 bytes), as TextEncoder writes it. */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 2; // 4 bytes for 2 UTF-16 units
      i++;
    } else length += 2;
  }
  return length;
}

/**
 * Orders text keys as their encoded forms compare bytewise: shorter UTF-8 first (the
 * head carries the length), then by code point, which is UTF-8 byte order.
 */
export function compareTextKeys(a: string, b: string): number {
  const la = utf8Length(a);
  const lb = utf8Length(b);
  if (la !== lb) return la - lb;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // UTF-16 order differs from code point order only between surrogates and U+E000-U+FFFF.
    if (ca >= 0xd800) ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
    if (cb >= 0xd800) cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    return ca - cb;
  }
  return a.length - b.length;
}

const encoder = new TextEncoder();

/** Output is carved from slabs of this size, so encoding allocates no buffer per item. */
const SLAB = 8 * 1024;

export class CborWriter {
  private buffer = new Uint8Array(SLAB);
  private view = new DataView(this.buffer.buffer);
  private start = 0; // where the item being written begins in the slab
  private position = 0;

  /** Starts an item. */
  begin(): void {
    if (this.buffer.length - this.position < 512) this.newSlab(SLAB, 0);
    this.start = this.position;
  }

  /**
   * The item written since `begin`: a view into a slab that later items never
   * overwrite (they continue after it or in a new slab).
   */
  finish(): Uint8Array {
    const item = this.buffer.subarray(this.start, this.position);
    this.start = this.position;
    return item;
  }

  /** Bytes written of the item begun last. */
  get offset(): number {
    return this.position - this.start;
  }

  /** Drops the item being written (after an error). */
  abandon(): void {
    this.position = this.start;
  }

  private newSlab(size: number, keep: number): void {
    const slab = new Uint8Array(size);
    if (keep > 0) slab.set(this.buffer.subarray(this.start, this.start + keep));
    this.buffer = slab;
    this.view = new DataView(slab.buffer);
    this.start = 0;
    this.position = keep;
  }

  private ensure(extra: number): void {
    if (this.position + extra <= this.buffer.length) return;
    const used = this.position - this.start;
    this.newSlab(Math.max(SLAB, (used + extra) * 2), used);
  }

  /** A head: major type and argument (0 to 2^53), in its shortest form. */
  head(major: number, argument: number): void {
    this.ensure(9);
    const b = this.buffer;
    const m = major << 5;
    let p = this.position;
    if (argument < 24) {
      b[p++] = m | argument;
    } else if (argument < 0x100) {
      b[p++] = m | 24;
      b[p++] = argument;
    } else if (argument < 0x10000) {
      b[p++] = m | 25;
      b[p++] = argument >>> 8;
      b[p++] = argument & 0xff;
    } else if (argument < TWO_32) {
      b[p++] = m | 26;
      this.view.setUint32(p, argument);
      p += 4;
    } else {
      b[p++] = m | 27;
      this.view.setUint32(p, Math.floor(argument / TWO_32));
      this.view.setUint32(p + 4, argument >>> 0);
      p += 8;
    }
    this.position = p;
  }

  byte(value: number): void {
    this.ensure(1);
    this.buffer[this.position++] = value;
  }

  number(value: number): void {
    // JS and JSON have one number type; integers that are exact in a double are
    // written as CBOR integers (§4.2.2 lets the application reduce integral floats).
    if (Number.isInteger(value) && value <= MAX_SAFE && value >= -MAX_SAFE) {
      if (value >= 0) this.head(0, value);
      else this.head(1, -1 - value);
      return;
    }
    if (!Number.isFinite(value)) {
      this.byte(0xf6);
      return;
    }
    const half = halfBits(value);
    this.ensure(9);
    const b = this.buffer;
    if (half >= 0) {
      b[this.position] = 0xf9;
      b[this.position + 1] = half >>> 8;
      b[this.position + 2] = half & 0xff;
      this.position += 3;
    } else if (Math.fround(value) === value) {
      b[this.position] = 0xfa;
      this.view.setFloat32(this.position + 1, value);
      this.position += 5;
    } else {
      b[this.position] = 0xfb;
      this.view.setFloat64(this.position + 1, value);
      this.position += 9;
    }
  }

  text(value: string): void {
    const n = value.length;
    // Short ASCII strings (nearly every key and name) are copied unit by unit.
    if (n < 64) {
      this.ensure(n + 2);
      const b = this.buffer;
      let p = this.position + (n < 24 ? 1 : 2);
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === n) {
        if (n < 24) b[this.position] = 0x60 | n;
        else {
          b[this.position] = 0x78;
          b[this.position + 1] = n;
        }
        this.position = p;
        return;
      }
    }
    const length = utf8Length(value);
    this.head(3, length);
    this.ensure(length);
    encoder.encodeInto(value, this.buffer.subarray(this.position, this.position + length));
    this.position += length;
  }

  bytes(value: Uint8Array): void {
    this.head(2, value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.position);
    this.position += value.length;
  }

  /** Bytes already encoded (a part of an earlier item), copied as they are. */
  raw(source: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.ensure(n);
    const b = this.buffer;
    let p = this.position;
    // A loop beats a subarray view plus set for the few bytes a dispatch's parts hold.
    if (n < 64) for (let i = start; i < end; i++) b[p++] = source[i]!;
    else {
      b.set(source.subarray(start, end), p);
      p += n;
    }
    this.position = p;
  }

  /**
   * Writes a canonical lower-case UUID as a 16-byte byte string and returns true;
   * returns false, writing nothing, for any other string.
   */
  uuid(value: string): boolean {
    if (value.length !== 36) return false;
    this.ensure(17);
    const b = this.buffer;
    let p = this.position + 1;
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (value.charCodeAt(i) !== 0x2d) return false;
        i++;
      }
      const high = hexValue(value.charCodeAt(i));
      const low = hexValue(value.charCodeAt(i + 1));
      if ((high | low) < 0) return false;
      b[p++] = (high << 4) | low;
    }
    b[this.position] = 0x50;
    this.position = p;
    return true;
  }

  /**
   * Any JSON-shaped value, deterministic. `depth` counts enclosing containers.
   * `toJSON` is called once per value, as JSON.stringify does.
   */
  value(value: unknown, depth: number, callToJSON = true): void {
    switch (typeof value) {
      case 'string':
        this.text(value);
        return;
      case 'number':
        this.number(value);
        return;
      case 'boolean':
        this.byte(value ? 0xf5 : 0xf4);
        return;
      case 'bigint':
        throw errors.badDispatch('a bigint has no JSON form');
      case 'object':
        break;
      default: // undefined, function, symbol: JSON writes null where a value is required
        this.byte(0xf6);
        return;
    }
    if (value === null) {
      this.byte(0xf6);
      return;
    }
    if (depth >= MAX_WRITE_DEPTH) {
      throw errors.badDispatch(`value nests deeper than ${MAX_WRITE_DEPTH} levels`);
    }
    if (Array.isArray(value)) {
      this.head(4, value.length);
      for (let i = 0; i < value.length; i++) this.value(value[i], depth + 1);
      return;
    }
    if (value instanceof Uint8Array) {
      this.bytes(value);
      return;
    }
    if (callToJSON) {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        this.value(toJSON.call(value), depth, false);
        return;
      }
    }
    this.object(value as Record<string, unknown>, depth);
  }

  private object(value: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(value);
    let count = 0;
    for (let i = 0; i < keys.length; i++) {
      if (isJsonValue(value[keys[i]!])) keys[count++] = keys[i]!;
    }
    if (count > 1) sortTextKeys(keys, count);
    this.head(5, count);
    for (let i = 0; i < count; i++) {
      const key = keys[i]!;
      this.text(key);
      this.value(value[key], depth + 1);
    }
  }
}

/** What JSON.stringify keeps as an object member. */
export function isJsonValue(value: unknown): boolean {
  const type = typeof value;
  return type !== 'undefined' && type !== 'function' && type !== 'symbol';
}

/** 0-15 for 0-9 and a-f, -1 otherwise (upper case too: it would not read back the same). */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** Sorts the first `count` keys in place; insertion sort, as objects have few keys. */
export function sortTextKeys(keys: string[], count: number): void {
  if (count > 16) {
    const head = keys.slice(0, count).sort(compareTextKeys);
    for (let i = 0; i < count; i++) keys[i] = head[i]!;
    return;
  }
  for (let i = 1; i < count; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && compareTextKeys(keys[j]!, key) > 0) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

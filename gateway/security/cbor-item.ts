/**
 * CBOR items for security structures (COSE, grants), kept as they are typed: byte
 * strings stay bytes and map keys stay integers, unlike the dispatch decoder, which
 * turns both into JSON shapes. Decoding is strict, so an item has one encoding only
 * and a signed structure cannot be re-encoded into another that reads the same:
 * definite lengths, shortest heads, map keys (integers and text only) sorted by
 * their encoded bytes and never repeated, no floating point. Browser-safe.
 */
import { CborWriter } from '../jstp/codec/cbor-writer.js';

export type CborKey = number | string;
export type CborItem = number | string | boolean | null | undefined | Uint8Array | CborItem[] | CborMap | Tagged;
export type CborMap = Map<CborKey, CborItem>;

export class Tagged {
  constructor(readonly tag: number, readonly value: CborItem) {}
}

export class CborItemError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'CborItemError';
  }
}

const MAX_DEPTH = 16;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface DecodeItemOptions {
  /**
   * 'any' accepts map keys in any order (still never repeated): for structures other
   * implementations wrote without deterministic encoding, such as the COSE working
   * group's examples. Default 'sorted'.
   */
  readonly mapOrder?: 'sorted' | 'any';
}

/** Reads the one item that `bytes` must hold exactly. */
export function decodeItem(bytes: Uint8Array, options: DecodeItemOptions = {}): CborItem {
  const reader = new StrictReader(bytes, 0, options.mapOrder === 'any');
  const value = reader.item(0);
  const end = reader.pos;
  if (end !== bytes.length) throw new CborItemError(`${bytes.length - end} bytes after the item`, end);
  return value;
}

/** Reads one item starting at `start`; `end` is the offset just past it. */
export function readItem(bytes: Uint8Array, start: number): { value: CborItem; end: number } {
  const reader = new StrictReader(bytes, start);
  const value = reader.item(0);
  return { value, end: reader.pos };
}

/** The byte ranges of the elements of the array item that `bytes` holds exactly. */
export function arrayElements(bytes: Uint8Array): Uint8Array[] {
  const reader = new StrictReader(bytes, 0);
  const initial = reader.byte();
  if (initial >> 5 !== 4) throw new CborItemError('not an array', 0);
  const count = reader.argument(initial);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const start = reader.pos;
    reader.item(1);
    out.push(bytes.subarray(start, reader.pos));
  }
  if (reader.pos !== bytes.length) throw new CborItemError(`${bytes.length - reader.pos} bytes after the array`, reader.pos);
  return out;
}

class StrictReader {
  constructor(private readonly bytes: Uint8Array, public pos: number, private readonly anyOrder = false) {}

  byte(): number {
    if (this.pos >= this.bytes.length) throw new CborItemError('input ends inside an item', this.pos);
    return this.bytes[this.pos++]!;
  }

  /** The head's argument, refusing heads longer than needed and indefinite lengths. */
  argument(initial: number): number {
    const info = initial & 31;
    const at = this.pos - 1;
    if (info < 24) return info;
    let size: number;
    if (info === 24) size = 1;
    else if (info === 25) size = 2;
    else if (info === 26) size = 4;
    else if (info === 27) size = 8;
    else throw new CborItemError(info === 31 ? 'indefinite length' : 'reserved head', at);
    let value = 0;
    for (let i = 0; i < size; i++) value = value * 256 + this.byte();
    const shortest = info === 24 ? 24 : info === 25 ? 0x100 : info === 26 ? 0x10000 : 0x1_0000_0000;
    if (value < shortest) throw new CborItemError('a head longer than needed', at);
    if (!Number.isSafeInteger(value)) throw new CborItemError('an integer beyond 2^53', at);
    return value;
  }

  take(length: number): Uint8Array {
    if (length > this.bytes.length - this.pos) throw new CborItemError('input ends inside a string', this.pos);
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  item(depth: number): CborItem {
    if (depth > MAX_DEPTH) throw new CborItemError(`nested deeper than ${MAX_DEPTH}`, this.pos);
    const at = this.pos;
    const initial = this.byte();
    const major = initial >> 5;
    if (major === 7) return this.simple(initial, at);
    const argument = this.argument(initial);
    switch (major) {
      case 0:
        return argument;
      case 1:
        return -1 - argument;
      case 2:
        return this.take(argument).slice();
      case 3:
        try {
          return utf8.decode(this.take(argument));
        } catch {
          throw new CborItemError('text that is not UTF-8', at);
        }
      case 4: {
        if (argument > this.bytes.length - this.pos) throw new CborItemError('array longer than the input', at);
        const out: CborItem[] = [];
        for (let i = 0; i < argument; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5:
        return this.map(argument, depth, at);
      default:
        return new Tagged(argument, this.item(depth + 1));
    }
  }

  private map(count: number, depth: number, at: number): CborMap {
    if (count > this.bytes.length - this.pos) throw new CborItemError('map longer than the input', at);
    const out: CborMap = new Map();
    let previous: Uint8Array | undefined;
    for (let i = 0; i < count; i++) {
      const keyStart = this.pos;
      const initial = this.byte();
      const major = initial >> 5;
      if (major !== 0 && major !== 1 && major !== 3) throw new CborItemError('a map key that is not an integer or text', keyStart);
      this.pos = keyStart;
      const key = this.item(depth + 1) as CborKey;
      const encoded = this.bytes.subarray(keyStart, this.pos);
      if (this.anyOrder) {
        if (out.has(key)) throw new CborItemError('a map key repeated', keyStart);
      } else if (previous && compareBytes(previous, encoded) >= 0) throw new CborItemError('map keys out of order or repeated', keyStart);
      previous = encoded;
      out.set(key, this.item(depth + 1));
    }
    return out;
  }

  private simple(initial: number, at: number): CborItem {
    switch (initial) {
      case 0xf4: return false;
      case 0xf5: return true;
      case 0xf6: return null;
      case 0xf7: return undefined;
      default: throw new CborItemError('a floating point or simple value', at);
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

// ---- encoding ---------------------------------------------------------------------------

const writer = new CborWriter();
// Keys are scalars, encoded on their own while an item is being written.
const keyWriter = new CborWriter();

function encodeKey(key: CborKey): Uint8Array {
  keyWriter.begin();
  if (typeof key === 'string') keyWriter.text(key);
  else if (!Number.isSafeInteger(key)) throw new TypeError('a map key must be an integer or text');
  else if (key >= 0) keyWriter.head(0, key);
  else keyWriter.head(1, -1 - key);
  return keyWriter.finish().slice();
}

/**
 * Encodes an item deterministically (RFC 8949 §4.2.1): shortest heads, map keys
 * sorted by their encoded bytes. The result is a copy the caller owns.
 */
export function encodeItem(item: CborItem): Uint8Array {
  writer.begin();
  try {
    writeItem(writer, item);
    return writer.finish().slice();
  } catch (error) {
    writer.abandon();
    throw error;
  }
}

export function writeItem(w: CborWriter, item: CborItem): void {
  if (item === null) return w.byte(0xf6);
  if (item === undefined) return w.byte(0xf7);
  if (typeof item === 'boolean') return w.byte(item ? 0xf5 : 0xf4);
  if (typeof item === 'number') {
    if (!Number.isSafeInteger(item)) throw new TypeError('only integers are encoded here');
    return item >= 0 ? w.head(0, item) : w.head(1, -1 - item);
  }
  if (typeof item === 'string') return w.text(item);
  if (item instanceof Uint8Array) return w.bytes(item);
  if (Array.isArray(item)) {
    w.head(4, item.length);
    for (const element of item) writeItem(w, element);
    return;
  }
  if (item instanceof Tagged) {
    w.head(6, item.tag);
    return writeItem(w, item.value);
  }
  const entries = [...item.entries()].map(([key, value]) => ({ key: encodeKey(key), value }));
  entries.sort((a, b) => compareBytes(a.key, b.key));
  w.head(5, entries.length);
  for (const entry of entries) {
    for (const byte of entry.key) w.byte(byte);
    writeItem(w, entry.value);
  }
}

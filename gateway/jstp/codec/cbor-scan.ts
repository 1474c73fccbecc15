/**
 * A resumable pre-scan of one CBOR data item: it walks the item's heads without
 * building any value, so a hostile declared length, depth or size is refused before
 * anything is allocated for it, and a byte stream learns where one item ends.
 * It accepts only the JSON data model: no tags but bignums and tag 259 around a map, no NaN or infinities, no simple
 * values but false/true/null/undefined, map keys text or integer. What passes can be
 * read by cbor-read.ts without further checks.
 */
import { CborDecodeError } from './cbor-error.js';

export interface CborLimits {
  /** The whole item, in bytes. */
  maxBytes: number;
  /** Nested arrays and maps; the outermost map counts as 1. */
  maxDepth: number;
  /** One text or byte string, in bytes. */
  maxStringBytes: number;
  /** Elements of one array, or pairs of one map. */
  maxContainerLength: number;
}

export const DEFAULT_CBOR_LIMITS: Readonly<CborLimits> = {
  maxBytes: 64 * 1024,
  maxDepth: 32,
  maxStringBytes: 64 * 1024,
  maxContainerLength: 16 * 1024,
};

/** `scan` returns this when the item continues past the bytes given. */
export const NEED_MORE = -1;

/** Tag 259, "map with keys of any type" (RFC 8949 registry). */
export const MAP_WITH_ANY_KEYS = 259;

const ARRAY = 0;
const MAP = 1;
const INDEFINITE = -1;

function fail(reason: ConstructorParameters<typeof CborDecodeError>[0], message: string, offset: number): never {
  throw new CborDecodeError(reason, message, { offset });
}

/**
 * Scans one item. Call `scan` again with the same item start and more bytes after
 * NEED_MORE: it resumes where it stopped (every complete head is kept), so a large
 * item arriving one byte at a time costs linear time, not quadratic.
 */
export class CborScanner {
  private offset = 0; // bytes of the item already accepted, from its start
  private depth = 0;
  private done = false;
  private readonly left: Int32Array; // items (keys and values) left per open container
  private readonly seen: Int32Array; // items read per open container, for key/value parity
  private readonly kind: Uint8Array;

  constructor(private readonly limits: Readonly<CborLimits>) {
    this.left = new Int32Array(limits.maxDepth + 1);
    this.seen = new Int32Array(limits.maxDepth + 1);
    this.kind = new Uint8Array(limits.maxDepth + 1);
  }

  reset(): void {
    this.offset = 0;
    this.depth = 0;
    this.done = false;
  }

  /** Bytes accepted so far of the current item. */
  get scanned(): number {
    return this.offset;
  }

  /**
   * Returns the item's length once `bytes[start, end)` holds all of it, NEED_MORE
   * when it continues past `end`; throws CborDecodeError when it is malformed or over
   * a limit (an item that cannot fit in `maxBytes` fails as soon as that is known).
   */
  scan(bytes: Uint8Array, start: number, end: number): number {
    const { maxBytes, maxDepth, maxStringBytes, maxContainerLength } = this.limits;
    const hardEnd = start + maxBytes;
    // Bytes past the limit count as missing, so needMore reports the item too large.
    if (end > hardEnd) end = hardEnd;
    const left = this.left;
    const seen = this.seen;
    const kind = this.kind;
    let pos = start + this.offset;

    while (!this.done) {
      if (pos >= end) return this.needMore(pos, hardEnd, 1);
      const initial = bytes[pos]!;
      const major = initial >> 5;
      const info = initial & 31;
      let head = 1;
      let arg = info;
      if (info >= 24) {
        if (info === 24) head = 2;
        else if (info === 25) head = 3;
        else if (info === 26) head = 5;
        else if (info === 27) head = 9;
        else if (info === 31) head = 1;
        else fail('malformed', `reserved additional information ${info}`, pos - start);
        if (pos + head > end) return this.needMore(pos, hardEnd, head);
        if (info === 24) arg = bytes[pos + 1]!;
        else if (info === 25) arg = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
        else if (info === 26) arg = readUint32(bytes, pos + 1);
        else if (info === 27) arg = readUint32(bytes, pos + 1) * 0x1_0000_0000 + readUint32(bytes, pos + 5);
      }
      const depth = this.depth;
      const isKey = depth > 0 && kind[depth] === MAP && (seen[depth]! & 1) === 0;

      if (info === 31) {
        if (major === 7) {
          if (depth === 0 || left[depth] !== INDEFINITE) fail('malformed', 'unexpected break', pos - start);
          if (kind[depth] === MAP && !isKey) fail('malformed', 'map ends after a key', pos - start);
          pos += 1;
          this.depth = depth - 1;
          this.offset = pos - start;
          this.itemDone();
          continue;
        }
        if (major === 2 || major === 3) fail('unsupported', 'indefinite-length strings are not supported', pos - start);
        if (major !== 4 && major !== 5) fail('malformed', `major type ${major} cannot be indefinite`, pos - start);
      }

      switch (major) {
        case 0:
        case 1:
          pos += head;
          break;
        case 2:
        case 3: {
          if (arg > maxStringBytes) fail('string-too-long', `string of ${arg} bytes is over the limit of ${maxStringBytes}`, pos - start);
          const stop = pos + head + arg;
          if (stop > end) return this.needMore(pos, hardEnd, head + arg);
          if (major === 2 && isKey) fail('bad-key', 'map keys must be text or integers', pos - start);
          pos = stop;
          break;
        }
        case 4:
        case 5: {
          if (isKey) fail('bad-key', 'map keys must be text or integers', pos - start);
          if (depth + 1 > maxDepth) fail('too-deep', `nesting deeper than ${maxDepth}`, pos - start);
          pos += head;
          let items = INDEFINITE;
          if (info !== 31) {
            if (arg > maxContainerLength) {
              fail('container-too-long', `${arg} entries are over the limit of ${maxContainerLength}`, pos - head - start);
            }
            items = major === 5 ? arg * 2 : arg;
            // Every item takes at least one byte: refuse a count that cannot fit.
            if (items > hardEnd - pos) fail('too-large', `${items} items cannot fit in ${maxBytes} bytes`, pos - head - start);
          }
          this.offset = pos - start;
          if (items === 0) {
            this.itemDone();
            continue;
          }
          const next = depth + 1;
          this.depth = next;
          left[next] = items;
          seen[next] = 0;
          kind[next] = major === 5 ? MAP : ARRAY;
          continue;
        }
        case 6: {
          if (isKey) fail('bad-key', 'map keys must be text or integers', pos - start);
          if (arg === MAP_WITH_ANY_KEYS) {
            // Tag 259 (cbor-x writes it around a JavaScript Map): read as the bare map,
            // which follows as the rest of this same item.
            if (pos + head >= end) return this.needMore(pos, hardEnd, head + 1);
            if (bytes[pos + head]! >> 5 !== 5) fail('unsupported', 'tag 259 must wrap a map', pos - start);
            pos += head;
            this.offset = pos - start;
            continue;
          }
          // Otherwise only bignums (tags 2 and 3): encoders such as Python's write integers past
          // 64 bits that way, and JSON numbers can be that big. Capped at 127 bytes so
          // the value stays a finite double.
          if (arg !== 2 && arg !== 3) fail('unsupported', `tag ${arg} is not part of the JSON data model`, pos - start);
          const at = pos + head;
          if (at + 2 > end && !(at < end && (bytes[at]! & 31) < 24)) return this.needMore(pos, hardEnd, head + 2);
          const inner = bytes[at]!;
          const size = (inner & 31) < 24 ? inner & 31 : (inner & 31) === 24 ? bytes[at + 1]! : 128;
          if (inner >> 5 !== 2 || size > 127) fail('unsupported', 'a bignum must be a byte string of at most 127 bytes', pos - start);
          const stop = at + ((inner & 31) < 24 ? 1 : 2) + size;
          if (stop > end) return this.needMore(pos, hardEnd, stop - pos);
          pos = stop;
          break;
        }
        default: // major 7
          if (isKey) fail('bad-key', 'map keys must be text or integers', pos - start);
          if (info === 25) {
            if ((bytes[pos + 1]! & 0x7c) === 0x7c) fail('unsupported', 'NaN and infinities have no JSON form', pos - start);
          } else if (info === 26) {
            if (((bytes[pos + 1]! & 0x7f) << 1 | bytes[pos + 2]! >> 7) === 0xff) fail('unsupported', 'NaN and infinities have no JSON form', pos - start);
          } else if (info === 27) {
            if (((bytes[pos + 1]! & 0x7f) << 4 | bytes[pos + 2]! >> 4) === 0x7ff) fail('unsupported', 'NaN and infinities have no JSON form', pos - start);
          } else if (info < 20 || info > 23) {
            // 20-23: false, true, null, and undefined (JS encoders write it for absent
            // members; it reads back as undefined, which JSON output drops or nulls).
            fail('unsupported', `simple value ${arg} has no JSON form`, pos - start);
          }
          pos += head;
      }
      this.offset = pos - start;
      this.itemDone();
    }
    return this.offset;
  }

  private needMore(pos: number, hardEnd: number, wanted: number): number {
    if (pos + wanted > hardEnd) {
      fail('too-large', `item is over the limit of ${this.limits.maxBytes} bytes`, pos - hardEnd + this.limits.maxBytes);
    }
    return NEED_MORE;
  }

  /** One item finished at the current depth: close every container it completes. */
  private itemDone(): void {
    let depth = this.depth;
    while (depth > 0) {
      const seen = ++this.seen[depth]!;
      const left = this.left[depth]!;
      if (left === INDEFINITE) {
        const limit = this.limits.maxContainerLength * (this.kind[depth] === MAP ? 2 : 1);
        if (seen > limit) fail('container-too-long', `over ${this.limits.maxContainerLength} entries`, this.offset);
        break;
      }
      if (left > 1) {
        this.left[depth] = left - 1;
        break;
      }
      depth -= 1;
    }
    this.depth = depth;
    if (depth === 0) this.done = true;
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/**
 * Reads CBOR that CborScanner has accepted into JSON-shaped values, in one pass and
 * without bounds checks (the scan did them). Maps become plain objects (integer keys
 * as their digits, `__proto__` as an own property, as JSON.parse makes it), byte
 * strings become base64url text (RFC 8949 §6.1), bignums become numbers, undefined
 * stays undefined, tag 259 around a map is the bare map.
 */

const fromCharCode = String.fromCharCode;
// ignoreBOM keeps a leading U+FEFF, which is data here, not a byte-order mark.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const TWO_32 = 0x1_0000_0000;
// Floats are copied here to be read big-endian without a DataView per value.
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

export class CborReader {
  bytes: Uint8Array = new Uint8Array(0);
  pos = 0;

  /** Starts reading `bytes` at `pos`. */
  reset(bytes: Uint8Array, pos: number): void {
    this.bytes = bytes;
    this.pos = pos;
  }

  /** The argument of the head at `pos` (whose first byte was `initial`); moves past it. */
  argument(initial: number): number {
    const info = initial & 31;
    const b = this.bytes;
    const p = this.pos;
    if (info < 24) return info;
    if (info === 24) {
      this.pos = p + 1;
      return b[p]!;
    }
    if (info === 25) {
      this.pos = p + 2;
      return (b[p]! << 8) | b[p + 1]!;
    }
    if (info === 26) {
      this.pos = p + 4;
      return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    }
    if (info === 27) {
      this.pos = p + 8;
      const high = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      const low = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
      return high * TWO_32 + low;
    }
    return -1; // indefinite (31); the scan allows it only on arrays and maps
  }

  /** Moves past a tag 259 head (a map with keys of any type) if one is next; the map follows. */
  skipMapTag(): void {
    const start = this.pos;
    const initial = this.bytes[start]!;
    if (initial >> 5 !== 6) return;
    this.pos = start + 1;
    if (this.argument(initial) !== 259) this.pos = start;
  }

  /** Reads the break byte that ends an indefinite container, if it is next. */
  isBreak(): boolean {
    if (this.bytes[this.pos] !== 0xff) return false;
    this.pos++;
    return true;
  }

  value(): unknown {
    const initial = this.bytes[this.pos++]!;
    switch (initial >> 5) {
      case 0:
        return this.argument(initial);
      case 1:
        return -1 - this.argument(initial);
      case 2:
        return base64url(this.byteString(this.argument(initial)));
      case 3:
        return this.text(this.argument(initial));
      case 4:
        return this.array(this.argument(initial));
      case 5:
        return this.map(this.argument(initial));
      case 6: {
        const tag = this.argument(initial);
        // The scan let through only bignums and tag 259 around a map (read as the bare map).
        return tag === 259 ? this.value() : this.bignum(tag);
      }
      default:
        return this.simple(initial);
    }
  }

  byteString(length: number): Uint8Array {
    const start = this.pos;
    this.pos = start + length;
    return this.bytes.subarray(start, start + length);
  }

  text(length: number): string {
    const b = this.bytes;
    const start = this.pos;
    const end = start + length;
    this.pos = end;
    if (length <= 24) {
      let ascii = true;
      for (let i = start; i < end; i++) {
        if (b[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return shortAscii(b, start, length);
    }
    return utf8.decode(b.subarray(start, end));
  }

  array(length: number): unknown[] {
    if (length < 0) {
      const out: unknown[] = [];
      while (!this.isBreak()) out.push(this.value());
      return out;
    }
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) out[i] = this.value();
    return out;
  }

  map(length: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; length < 0 ? !this.isBreak() : i < length; i++) {
      setMember(out, this.key(), this.value());
    }
    return out;
  }

  /** A map key as JSON has it: text as is, an integer as its digits (the scan allows only these). */
  key(): string {
    const initial = this.bytes[this.pos++]!;
    const major = initial >> 5;
    const argument = this.argument(initial);
    if (major === 3) return this.text(argument);
    return String(major === 0 ? argument : -1 - argument);
  }

  /** Tag 2 or 3 around a byte string: a number, rounded as JSON.parse rounds big integers. */
  private bignum(tag: number): number {
    const initial = this.bytes[this.pos++]!;
    const digits = this.byteString(this.argument(initial));
    let value = 0n;
    for (const digit of digits) value = (value << 8n) | BigInt(digit);
    return tag === 2 ? Number(value) : Number(-1n - value);
  }

  private simple(initial: number): unknown {
    const b = this.bytes;
    const p = this.pos;
    switch (initial) {
      case 0xf4:
        return false;
      case 0xf5:
        return true;
      case 0xf6:
        return null;
      case 0xf9:
        this.pos = p + 2;
        return halfToNumber((b[p]! << 8) | b[p + 1]!);
      case 0xfa:
        this.pos = p + 4;
        scratch.set(b.subarray(p, p + 4));
        return scratchView.getFloat32(0);
      case 0xfb:
        this.pos = p + 8;
        scratch.set(b.subarray(p, p + 8));
        return scratchView.getFloat64(0);
      default: // 0xf7, undefined
        return undefined;
    }
  }
}

/** Like JSON.parse: an own `__proto__` property, never a prototype change. */
export function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export function halfToNumber(half: number): number {
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const magnitude = exponent === 0
    ? mantissa * 2 ** -24
    : (1024 + mantissa) * 2 ** (exponent - 25);
  return half & 0x8000 ? -magnitude : magnitude;
}

function shortAscii(b: Uint8Array, s: number, length: number): string {
  // Explicit arguments build short strings far faster than a loop or TextDecoder.
  switch (length) {
    case 0: return '';
    case 1: return fromCharCode(b[s]!);
    case 2: return fromCharCode(b[s]!, b[s + 1]!);
    case 3: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    default: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!)
      + shortAscii(b, s + 8, length - 8);
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!;
  }
  if (i < bytes.length) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]!;
    if (i + 1 < bytes.length) out += B64[(n >>> 6) & 63]!;
  }
  return out;
}

/**
 * Characteristic values in the GATT Presentation Format's terms, little-endian as on
 * the air: a value `v` with exponent `e` travels as the integer `round(v / 10^e)`.
 * Written apart from the driver's codecs on purpose: a test of the driver against
 * this simulator checks two readings of the specification against each other.
 */
import type { ValueFormat } from './description.js';

const SIZES: Readonly<Record<Exclude<ValueFormat, 'utf8'>, { bytes: number; signed: boolean }>> = {
  boolean: { bytes: 1, signed: false },
  uint8: { bytes: 1, signed: false },
  sint8: { bytes: 1, signed: true },
  uint16: { bytes: 2, signed: false },
  sint16: { bytes: 2, signed: true },
  uint32: { bytes: 4, signed: false },
  sint32: { bytes: 4, signed: true },
};

export function encodeValue(format: ValueFormat, exponent: number, value: unknown): Uint8Array {
  if (format === 'utf8') return new TextEncoder().encode(String(value));
  const { bytes, signed } = SIZES[format];
  const raw = format === 'boolean' ? (value ? 1 : 0) : Math.round(Number(value) / 10 ** exponent);
  const limit = 2 ** (bytes * 8);
  const [min, max] = signed ? [-limit / 2, limit / 2 - 1] : [0, limit - 1];
  if (!Number.isInteger(raw) || raw < min || raw > max) throw new RangeError(`${String(value)} does not fit ${format} with exponent ${exponent}`);
  const out = new Uint8Array(bytes);
  let unsigned = raw < 0 ? raw + limit : raw;
  for (let i = 0; i < bytes; i++) {
    out[i] = unsigned % 256;
    unsigned = Math.floor(unsigned / 256);
  }
  return out;
}

export function decodeValue(format: ValueFormat, exponent: number, bytes: Uint8Array): number | boolean | string {
  if (format === 'utf8') return new TextDecoder().decode(bytes);
  const { bytes: size, signed } = SIZES[format];
  if (bytes.length < size) throw new RangeError(`${format} needs ${size} bytes, got ${bytes.length}`);
  let raw = 0;
  for (let i = size - 1; i >= 0; i--) raw = raw * 256 + bytes[i]!;
  if (signed && raw >= 2 ** (size * 8 - 1)) raw -= 2 ** (size * 8);
  if (format === 'boolean') return raw !== 0;
  return exponent === 0 ? raw : Number((raw * 10 ** exponent).toFixed(Math.max(0, -exponent)));
}

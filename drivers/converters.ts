/**
 * Small converters between what a device sends (bytes, strings, JSON) and property
 * values. Profiles name them as data (`'uint8'`, `{ type: 'int16le', scale: 0.01 }`)
 * and `createConverter` builds them. `decode` failures mean the device sent something
 * unexpected (status 502); `encode` failures mean the value cannot be sent (status 400).
 */
import { z } from 'zod';
import { errors, PasarelaError } from '../gateway/jstp/errors.js';

/** Turns raw device data into a value (`decode`) and, if writable, back (`encode`). */
export interface Converter<Raw = unknown, Value = unknown> {
  /** For messages, e.g. `int16le×0.01`. */
  readonly name: string;
  decode(raw: Raw): Value;
  /** Absent when the value cannot be written back. */
  encode?(value: Value): Raw;
}

export interface NumberOptions {
  /** Byte offset in the buffer (default 0). */
  offset?: number;
  /** Multiplier applied on decode, divided out on encode (default 1). */
  scale?: number;
}

/** The device sent bytes the converter cannot read (502). */
export function decodeError(name: string, reason: string): PasarelaError {
  return errors.convert(`${name}: ${reason}`);
}

/** A value the device cannot take in this form (400). */
export function encodeError(name: string, reason: string): PasarelaError {
  return errors.badValue(`${name}: ${reason}`);
}

/** Decimal places of a scale like 0.01, so 2150 × 0.01 gives 21.5 and not 21.500000000000004. */
function decimalsOf(scale: number): number {
  if (Number.isInteger(scale)) return 0;
  const text = String(scale);
  const exponent = /e-(\d+)$/.exec(text);
  if (exponent) return Number(exponent[1]);
  return text.split('.')[1]?.length ?? 0;
}

function integer(
  type: string,
  size: number,
  min: number,
  max: number,
  read: (view: DataView, offset: number) => number,
  write: (view: DataView, offset: number, value: number) => void,
) {
  return (options: NumberOptions = {}): Converter<Uint8Array, number> => {
    const offset = options.offset ?? 0;
    const scale = options.scale ?? 1;
    const decimals = decimalsOf(scale);
    const name = scale === 1 ? type : `${type}×${scale}`;
    return {
      name,
      decode(raw) {
        if (!(raw instanceof Uint8Array)) throw decodeError(name, 'expected bytes');
        if (raw.length < offset + size) throw decodeError(name, `expected ${offset + size} bytes, got ${raw.length}`);
        const value = read(new DataView(raw.buffer, raw.byteOffset, raw.byteLength), offset);
        return scale === 1 ? value : Number((value * scale).toFixed(decimals));
      },
      encode(value) {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw encodeError(name, 'expected a finite number');
        const units = Math.round(value / scale);
        if (units < min || units > max) throw encodeError(name, `${value} is out of range`);
        const bytes = new Uint8Array(offset + size);
        write(new DataView(bytes.buffer), offset, units);
        return bytes;
      },
    };
  };
}

export const uint8 = integer('uint8', 1, 0, 0xff, (v, o) => v.getUint8(o), (v, o, x) => v.setUint8(o, x));
export const int8 = integer('int8', 1, -0x80, 0x7f, (v, o) => v.getInt8(o), (v, o, x) => v.setInt8(o, x));
export const uint16le = integer('uint16le', 2, 0, 0xffff, (v, o) => v.getUint16(o, true), (v, o, x) => v.setUint16(o, x, true));
export const int16le = integer('int16le', 2, -0x8000, 0x7fff, (v, o) => v.getInt16(o, true), (v, o, x) => v.setInt16(o, x, true));
export const uint32le = integer('uint32le', 4, 0, 0xffffffff, (v, o) => v.getUint32(o, true), (v, o, x) => v.setUint32(o, x, true));

/** Bytes as UTF-8 text (a trailing NUL, common in GATT strings, is dropped). */
export function utf8(): Converter<Uint8Array, string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const encoder = new TextEncoder();
  return {
    name: 'utf8',
    decode(raw) {
      if (!(raw instanceof Uint8Array)) throw decodeError('utf8', 'expected bytes');
      try {
        return decoder.decode(raw).replace(/\0+$/, '');
      } catch {
        throw decodeError('utf8', 'not valid UTF-8');
      }
    },
    encode(value) {
      if (typeof value !== 'string') throw encodeError('utf8', 'expected a string');
      return encoder.encode(value);
    },
  };
}

/**
 * A bit field: bit i of the little-endian integer at `offset` is `names[i]`.
 * Decodes to `{ name: boolean }` for every named bit; unnamed bits (empty names) are ignored.
 */
export function flags(names: readonly string[], options: { offset?: number } = {}): Converter<Uint8Array, Record<string, boolean>> {
  const offset = options.offset ?? 0;
  const size = Math.max(1, Math.ceil(names.length / 8));
  return {
    name: 'flags',
    decode(raw) {
      if (!(raw instanceof Uint8Array)) throw decodeError('flags', 'expected bytes');
      if (raw.length < offset + size) throw decodeError('flags', `expected ${offset + size} bytes, got ${raw.length}`);
      const result: Record<string, boolean> = {};
      names.forEach((name, bit) => {
        if (name) result[name] = (raw[offset + (bit >> 3)]! & (1 << (bit & 7))) !== 0;
      });
      return result;
    },
    encode(value) {
      if (typeof value !== 'object' || value === null) throw encodeError('flags', 'expected an object of booleans');
      const bytes = new Uint8Array(offset + size);
      names.forEach((name, bit) => {
        if (name && value[name] === true) bytes[offset + (bit >> 3)]! |= 1 << (bit & 7);
      });
      return bytes;
    },
  };
}

/** `a.b[0].c` or `a.b.0.c` -> ['a', 'b', '0', 'c']. */
export function parsePath(path: string): string[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((part) => part !== '');
}

/**
 * One value inside a JSON document. Decoding a document without it yields
 * `undefined` (a state message that does not carry this property); encoding builds
 * the smallest document that carries it, e.g. `ENERGY.Power` -> `{ ENERGY: { Power: v } }`.
 */
export function jsonPath(path: string): Converter<unknown, unknown> {
  const parts = parsePath(path);
  return {
    name: `json:${path}`,
    decode(raw) {
      let node: unknown = raw;
      for (const part of parts) {
        if (node === null || typeof node !== 'object') return undefined;
        node = (node as Record<string, unknown>)[part];
      }
      return node;
    },
    encode(value) {
      let document: unknown = value;
      for (let i = parts.length - 1; i >= 0; i--) document = { [parts[i]!]: document };
      return document;
    },
  };
}

/** `"21.5"` -> 21.5 (numbers pass through); encodes back to text. */
export function numberFromString(): Converter<unknown, number> {
  return {
    name: 'number-from-string',
    decode(raw) {
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      const text = typeof raw === 'string' ? raw.trim() : raw instanceof Uint8Array ? new TextDecoder().decode(raw).trim() : undefined;
      const value = text === undefined || text === '' ? NaN : Number(text);
      if (!Number.isFinite(value)) throw decodeError('number-from-string', `not a number: ${JSON.stringify(text ?? raw)}`);
      return value;
    },
    encode(value) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw encodeError('number-from-string', 'expected a finite number');
      return String(value);
    },
  };
}

export interface OnOffOptions {
  /** What the device sends and accepts for true (default `ON`). */
  on?: string;
  /** For false (default `OFF`). */
  off?: string;
}

/** `"ON"`/`"OFF"` (any case; also `true`/`false`, `1`/`0`) <-> boolean. */
export function onOff(options: OnOffOptions = {}): Converter<unknown, boolean> {
  const on = options.on ?? 'ON';
  const off = options.off ?? 'OFF';
  const name = `on-off(${on}/${off})`;
  const truthy = new Set([on.toLowerCase(), 'true', '1', 'on']);
  const falsy = new Set([off.toLowerCase(), 'false', '0', 'off']);
  return {
    name,
    decode(raw) {
      if (typeof raw === 'boolean') return raw;
      const text = (raw instanceof Uint8Array ? new TextDecoder().decode(raw) : String(raw)).trim().toLowerCase();
      if (truthy.has(text)) return true;
      if (falsy.has(text)) return false;
      throw decodeError(name, `not on or off: ${JSON.stringify(raw)}`);
    },
    encode(value) {
      if (typeof value !== 'boolean') throw encodeError(name, 'expected a boolean');
      return value ? on : off;
    },
  };
}

/** `first` then `second` on decode; the reverse on encode (when both can encode). */
export function compose(first: Converter, second: Converter): Converter {
  const encodeFirst = first.encode;
  const encodeSecond = second.encode;
  return {
    name: `${first.name}|${second.name}`,
    decode: (raw) => second.decode(first.decode(raw)),
    ...(encodeFirst && encodeSecond ? { encode: (value: unknown) => encodeFirst(encodeSecond(value)) } : {}),
  };
}

// ---- converters as data -------------------------------------------------------------

const numberOptions = { offset: z.number().int().min(0).optional(), scale: z.number().positive().optional() };

/** How a profile names a converter: a bare name, or an object with `type` and options. */
export const converterSpecSchema = z.union([
  z.enum(['uint8', 'int8', 'uint16le', 'int16le', 'uint32le', 'utf8', 'number-from-string', 'on-off']),
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('uint8'), ...numberOptions }),
    z.strictObject({ type: z.literal('int8'), ...numberOptions }),
    z.strictObject({ type: z.literal('uint16le'), ...numberOptions }),
    z.strictObject({ type: z.literal('int16le'), ...numberOptions }),
    z.strictObject({ type: z.literal('uint32le'), ...numberOptions }),
    z.strictObject({ type: z.literal('utf8') }),
    z.strictObject({ type: z.literal('flags'), names: z.array(z.string()).min(1), offset: z.number().int().min(0).optional() }),
    z.strictObject({ type: z.literal('json-path'), path: z.string().min(1) }),
    z.strictObject({ type: z.literal('number-from-string') }),
    z.strictObject({ type: z.literal('on-off'), on: z.string().min(1).optional(), off: z.string().min(1).optional() }),
  ]),
]);

export type ConverterSpec = z.infer<typeof converterSpecSchema>;

/** Builds the converter a (validated) spec names. */
export function createConverter(spec: ConverterSpec): Converter<any, any> {
  const options = typeof spec === 'string' ? { type: spec } : spec;
  switch (options.type) {
    case 'uint8':
    case 'int8':
    case 'uint16le':
    case 'int16le':
    case 'uint32le': {
      const { offset, scale } = options as NumberOptions;
      const make = { uint8, int8, uint16le, int16le, uint32le }[options.type];
      return make({ ...(offset === undefined ? {} : { offset }), ...(scale === undefined ? {} : { scale }) });
    }
    case 'utf8':
      return utf8();
    case 'flags': {
      const { names, offset } = options as { names: string[]; offset?: number };
      return flags(names, offset === undefined ? {} : { offset });
    }
    case 'json-path':
      return jsonPath((options as { path: string }).path);
    case 'number-from-string':
      return numberFromString();
    case 'on-off': {
      const { on, off } = options as OnOffOptions;
      return onOff({ ...(on === undefined ? {} : { on }), ...(off === undefined ? {} : { off }) });
    }
  }
}

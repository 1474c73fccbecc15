/**
 * Codecs a GATT profile names as data: every converter of drivers/converters.ts
 * (`uint8`, `{ type: 'int16le', scale: 0.01 }`, `utf8`, flags, ...) plus the few that
 * GATT devices need and the shared set lacks: `enum` (a byte that indexes names),
 * `bool` (a byte, 0 or 1), `hex` (raw bytes as a hex string, the generic view) and
 * `struct` (named fields, each a codec at its own offset: a command or a status record).
 */
import { z } from 'zod';
import { converterSpecSchema, createConverter, decodeError, encodeError, type Converter } from '../converters.js';

export type ByteCodec = Converter<Uint8Array, unknown>;

const offset = z.number().int().min(0).optional();

const enumSpec = z.strictObject({
  type: z.literal('enum'),
  /** Index = the byte's value; a null entry decodes to null ("none"). */
  values: z.array(z.string().min(1).nullable()).min(1).max(256),
  offset,
});
const boolSpec = z.strictObject({ type: z.literal('bool'), offset });
const hexSpec = z.union([z.literal('hex'), z.strictObject({ type: z.literal('hex') })]);
const fieldCodecSchema = z.union([converterSpecSchema, enumSpec, boolSpec]);
const structSpec = z.strictObject({
  type: z.literal('struct'),
  fields: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        codec: fieldCodecSchema,
        /** Encoded when the value has no such key. */
        default: z.union([z.string(), z.number(), z.boolean()]).optional(),
      }),
    )
    .min(1),
});

export const bleCodecSchema = z.union([fieldCodecSchema, hexSpec, structSpec]);
export type BleCodecSpec = z.infer<typeof bleCodecSchema>;

function byteAt(name: string, raw: Uint8Array, at: number): number {
  if (!(raw instanceof Uint8Array)) throw decodeError(name, 'expected bytes');
  const byte = raw[at];
  if (byte === undefined) throw decodeError(name, `expected at least ${at + 1} bytes, got ${raw.length}`);
  return byte;
}

function byteOut(at: number, byte: number): Uint8Array {
  const bytes = new Uint8Array(at + 1);
  bytes[at] = byte;
  return bytes;
}

export function enumeration(values: readonly (string | null)[], at = 0): ByteCodec {
  const name = `enum(${values.filter((value) => value !== null).join('|')})`;
  return {
    name,
    decode(raw) {
      const index = byteAt(name, raw, at);
      if (index >= values.length) throw decodeError(name, `unknown value ${index}`);
      return values[index];
    },
    encode(value) {
      const index = typeof value === 'string' ? values.indexOf(value) : -1;
      if (index < 0) throw encodeError(name, `expected one of ${values.filter((entry) => entry !== null).join(', ')}`);
      return byteOut(at, index);
    },
  };
}

export function bool(at = 0): ByteCodec {
  return {
    name: 'bool',
    decode: (raw) => byteAt('bool', raw, at) !== 0,
    encode(value) {
      if (typeof value !== 'boolean') throw encodeError('bool', 'expected a boolean');
      return byteOut(at, value ? 1 : 0);
    },
  };
}

export function hex(): ByteCodec {
  return {
    name: 'hex',
    decode(raw) {
      if (!(raw instanceof Uint8Array)) throw decodeError('hex', 'expected bytes');
      return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
    },
    encode(value) {
      if (typeof value !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw encodeError('hex', 'expected an even number of hex digits');
      return Uint8Array.from(Buffer.from(value, 'hex'));
    },
  };
}

interface Field {
  readonly name: string;
  readonly codec: ByteCodec;
  readonly default: unknown;
}

/** An object whose fields sit at their codecs' offsets; null fields are left out when decoding. */
export function struct(fields: readonly Field[]): ByteCodec {
  const name = `struct(${fields.map((field) => field.name).join(',')})`;
  return {
    name,
    decode(raw) {
      const result: Record<string, unknown> = {};
      for (const field of fields) {
        const value = field.codec.decode(raw);
        if (value !== null && value !== undefined) result[field.name] = value;
      }
      return result;
    },
    encode(value) {
      if (typeof value !== 'object' || value === null) throw encodeError(name, 'expected an object');
      const parts = fields.map((field) => {
        const fieldValue = (value as Record<string, unknown>)[field.name] ?? field.default;
        if (!field.codec.encode) throw encodeError(name, `${field.name} cannot be written`);
        return field.codec.encode(fieldValue) as Uint8Array;
      });
      // Each part is zero up to its offset, so OR-ing lays the fields side by side.
      const bytes = new Uint8Array(Math.max(...parts.map((part) => part.length)));
      for (const part of parts) part.forEach((byte, index) => (bytes[index]! |= byte));
      return bytes;
    },
  };
}

/** Builds the codec a (validated) spec names. */
export function createCodec(spec: BleCodecSpec): ByteCodec {
  if (spec === 'hex') return hex();
  if (typeof spec === 'object') {
    switch (spec.type) {
      case 'hex':
        return hex();
      case 'enum':
        return enumeration(spec.values, spec.offset);
      case 'bool':
        return bool(spec.offset);
      case 'struct':
        return struct(spec.fields.map((field) => ({ name: field.name, codec: createCodec(field.codec), default: field.default })));
    }
  }
  return createConverter(spec);
}

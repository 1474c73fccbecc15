/**
 * Compact CBOR dispatches (shared/JSTP.md, "This project's extensions"): integer keys
 * for the known headers, integer methods, UUID token elements as 16-byte strings,
 * deterministic encoding. Decoding accepts that form and plain text-key CBOR, and
 * returns the JSON-shaped object that `validateDispatch` takes.
 */
import type { Dispatch } from '../dispatch.js';
import { CborDecodeError } from './cbor-error.js';
import type { DispatchCodec } from './codec.js';
import { base64url, CborReader, setMember } from './cbor-read.js';
import { CborScanner, DEFAULT_CBOR_LIMITS, NEED_MORE, type CborLimits } from './cbor-scan.js';
import { CborWriter, isJsonValue, sortTextKeys } from './cbor-writer.js';
import { METHOD_CODES } from './method-codes.js';
import { securityHeaderItem, securityHeaderKeyed, securityHeaderNamed, securityHeaderText, SECURITY_HEADERS } from './security-headers.js';

export { CborDecodeError, type CborDecodeReason } from './cbor-error.js';
export { DEFAULT_CBOR_LIMITS, type CborLimits } from './cbor-scan.js';

/** Header name -> integer key (index). */
export const HEADER_KEYS = ['protocol', 'method', 'resource', 'timestamp', 'token', 'host', 'body', 'endpoint', 'referer'] as const;

export { METHOD_CODES } from './method-codes.js';

const METHOD_NAMES: readonly (string | undefined)[] = (() => {
  const names: (string | undefined)[] = [];
  for (const [name, code] of Object.entries(METHOD_CODES)) names[code] = name;
  return names;
})();

const HEADER_INDEX: ReadonlyMap<string, number> = new Map(HEADER_KEYS.map((name, index) => [name, index]));

/**
 * Encodes a dispatch as compact, deterministic CBOR. Map keys come out sorted:
 * header keys 0-8 (one byte each) first, then other headers' text keys in encoded
 * byte order. An absent token is omitted: in CBOR no token means no transaction;
 * JSON's `token: []` exists only for node-jstp, which never reads CBOR.
 * The result may share its ArrayBuffer with other results (see CborWriter).
 * Throws PasarelaError (BadDispatch) for values JSON cannot hold (bigint, cycles).
 */
export function encodeDispatch(dispatch: Dispatch): Uint8Array {
  // A toJSON in the body could call back in here; it then gets an encoder of its own.
  const encoder = idleEncoder ?? new DispatchEncoder();
  idleEncoder = undefined;
  try {
    return encoder.encode(dispatch);
  } finally {
    idleEncoder = encoder;
  }
}

class DispatchEncoder {
  private readonly w = new CborWriter();
  private readonly values: unknown[] = new Array<unknown>(HEADER_KEYS.length);
  private readonly others: string[] = [];
  /** Security headers written as their CBOR items under negative keys, by SECURITY_HEADERS index. */
  private readonly security: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SECURITY_HEADERS.length);

  encode(d: Dispatch): Uint8Array {
    const { w, values, others, security } = this;
    w.begin();
    let present = 0; // header keys present, as a bit set
    let otherCount = 0;
    let securityCount = 0;
    try {
      let count = 0;
      for (const key of Object.keys(d)) {
        const value = d[key];
        if (!isJsonValue(value)) continue;
        const index = HEADER_INDEX.get(key);
        if (index === undefined) {
          const header = securityHeaderNamed(key);
          const item = header && securityHeaderItem(value);
          if (item) {
            security[-1 - header.key] = item;
            securityCount++;
            continue;
          }
          others[otherCount++] = key;
        } else if (!(index === 4 && Array.isArray(value) && value.length === 0)) {
          values[index] = value;
          present |= 1 << index;
          count++;
        }
      }
      if (otherCount > 1) sortTextKeys(others, otherCount);
      w.head(5, count + securityCount + otherCount);
      for (let i = 0; i < values.length; i++) {
        if (!(present & (1 << i))) continue;
        const value = values[i];
        w.head(0, i);
        if (i === 1) writeMethod(w, value);
        else if (i === 4) writeToken(w, value);
        else if (i === 7) writeEndpoint(w, value);
        else w.value(value, 1);
      }
      // Negative keys sort after the unsigned ones and before text (RFC 8949 §4.2.1).
      for (let i = 0; securityCount > 0 && i < security.length; i++) {
        const item = security[i];
        if (!item) continue;
        w.head(1, i);
        for (let b = 0; b < item.length; b++) w.byte(item[b]!);
      }
      for (let i = 0; i < otherCount; i++) {
        w.text(others[i]!);
        w.value(d[others[i]!], 1);
      }
      return w.finish();
    } catch (error) {
      w.abandon();
      throw error;
    } finally {
      // Hold no references to the caller's values.
      for (let i = 0; i < values.length; i++) if (present & (1 << i)) values[i] = undefined;
      for (let i = 0; i < otherCount; i++) others[i] = '';
      if (securityCount > 0) security.fill(undefined);
    }
  }
}

let idleEncoder: DispatchEncoder | undefined = new DispatchEncoder();

function writeMethod(w: CborWriter, method: unknown): void {
  const code = typeof method === 'string' ? METHOD_CODES[method] : undefined;
  // Anything else (never produced by validateDispatch) stays text and reads back as it was.
  if (code === undefined) w.value(method, 1);
  else w.head(0, code);
}

function writeToken(w: CborWriter, token: unknown): void {
  if (!Array.isArray(token)) {
    w.value(token, 1);
    return;
  }
  w.head(4, token.length);
  for (const part of token) {
    if (typeof part !== 'string' || !w.uuid(part)) w.value(part, 2);
  }
}

function writeEndpoint(w: CborWriter, endpoint: unknown): void {
  if (typeof endpoint !== 'object' || endpoint === null || Array.isArray(endpoint)) {
    w.value(endpoint, 1);
    return;
  }
  const { method, resource } = endpoint as { method?: unknown; resource?: unknown };
  const hasMethod = isJsonValue(method);
  const hasResource = isJsonValue(resource);
  w.head(5, (hasMethod ? 1 : 0) + (hasResource ? 1 : 0));
  if (hasMethod) {
    w.head(0, 1);
    writeMethod(w, method);
  }
  if (hasResource) {
    w.head(0, 2);
    w.value(resource, 2);
  }
}

export interface DecodeOptions {
  limits?: Partial<CborLimits>;
}

/** The defaults with the limits given; undefined entries keep the default. */
export function resolveLimits(limits: Partial<CborLimits> | undefined): Readonly<CborLimits> {
  if (!limits) return DEFAULT_CBOR_LIMITS;
  const resolved = { ...DEFAULT_CBOR_LIMITS };
  for (const key of Object.keys(resolved) as (keyof CborLimits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`CBOR limit ${key} must be a positive integer, got ${value}`);
    resolved[key] = value;
  }
  return resolved;
}

const defaultScanner = new CborScanner(DEFAULT_CBOR_LIMITS);
const reader = new CborReader();

/**
 * Decodes one dispatch (compact or text-key form) into a JSON-shaped object with
 * text header names, method names and UUID strings, for `validateDispatch`. A pre-scan
 * checks the limits before anything is allocated. Byte strings outside the token
 * become base64url text (RFC 8949 §6.1). Throws CborDecodeError.
 */
export function decodeDispatch(bytes: Uint8Array, options?: DecodeOptions): Record<string, unknown> {
  const limits = resolveLimits(options?.limits);
  let start = 0;
  // The self-described CBOR prefix (tag 55799) that some encoders write.
  if (bytes.length >= 3 && bytes[0] === 0xd9 && bytes[1] === 0xd9 && bytes[2] === 0xf7) start = 3;
  if (bytes.length - start > limits.maxBytes) {
    throw new CborDecodeError('too-large', `${bytes.length - start} bytes are over the limit of ${limits.maxBytes}`);
  }
  const scanner = limits === DEFAULT_CBOR_LIMITS ? defaultScanner : new CborScanner(limits);
  scanner.reset();
  const length = scanner.scan(bytes, start, bytes.length);
  if (length === NEED_MORE) {
    throw new CborDecodeError('truncated', 'input ends inside the dispatch', { offset: bytes.length - start });
  }
  if (start + length !== bytes.length) {
    throw new CborDecodeError('trailing-bytes', `${bytes.length - start - length} bytes after the dispatch`, { offset: length });
  }
  return decodeScanned(bytes, start);
}

/**
 * Reads one dispatch from an item that CborScanner accepted, starting at `start`.
 * Throws CborDecodeError for a well-formed item that is no dispatch map.
 */
export function decodeScanned(item: Uint8Array, start = 0): Record<string, unknown> {
  const r = reader;
  r.reset(item, start);
  try {
    return readDispatch(r);
  } finally {
    r.reset(EMPTY, 0); // keep no reference to the caller's bytes
  }
}

const EMPTY = new Uint8Array(0);

function readDispatch(r: CborReader): Record<string, unknown> {
  const initial = r.bytes[r.pos++]!;
  if (initial >> 5 !== 5) throw new CborDecodeError('not-a-dispatch', 'a dispatch must be a CBOR map', { offset: 0 });
  const count = r.argument(initial);
  const out: Record<string, unknown> = {};
  let seen = 0; // known headers read so far, as a bit set (integer or text key alike)
  for (let i = 0; count < 0 ? !r.isBreak() : i < count; i++) {
    const keyStart = r.pos;
    const keyInitial = r.bytes[r.pos++]!;
    const major = keyInitial >> 5;
    const argument = r.argument(keyInitial);
    let index: number;
    if (major === 0 && argument < HEADER_KEYS.length) {
      index = argument;
    } else if (major === 3) {
      const name = r.text(argument);
      const known = HEADER_INDEX.get(name);
      if (known === undefined) {
        if (Object.hasOwn(out, name)) throw duplicate(name, keyStart);
        setMember(out, name, r.value());
        continue;
      }
      index = known;
    } else if (major === 1 && securityHeaderKeyed(-1 - argument)) {
      // A security header: its JSON form is the base64url of the item's own bytes.
      const name = securityHeaderKeyed(-1 - argument)!.name;
      if (Object.hasOwn(out, name)) throw duplicate(name, keyStart);
      if (r.bytes[r.pos]! >> 5 !== 4) throw new CborDecodeError('bad-key', `header ${name} (key ${-1 - argument}) must be an array`, { offset: keyStart });
      const itemStart = r.pos;
      r.value();
      out[name] = securityHeaderText(r.bytes.subarray(itemStart, r.pos));
      continue;
    } else {
      const reason = major === 1 ? `negative key ${-1 - argument} is reserved for the security layer` : `unknown header key ${argument}`;
      throw new CborDecodeError('bad-key', reason, { offset: keyStart });
    }
    // Also catches an integer key and the same header as text.
    if (seen & (1 << index)) throw duplicate(HEADER_KEYS[index]!, keyStart);
    seen |= 1 << index;
    // Named stores: objects of the usual shapes build much faster than with keyed stores.
    switch (index) {
      case 0: out.protocol = r.value(); break;
      case 1: out.method = methodName(r.value()); break;
      case 2: out.resource = r.value(); break;
      case 3: out.timestamp = r.value(); break;
      case 4: out.token = readToken(r); break;
      case 5: out.host = r.value(); break;
      case 6: out.body = r.value(); break;
      case 7: out.endpoint = readEndpoint(r); break;
      default: out.referer = r.value();
    }
  }
  return out;
}

function duplicate(name: string, offset: number): CborDecodeError {
  return new CborDecodeError('duplicate-header', `header ${name} appears twice`, { offset });
}

/** An unknown code becomes its digits, so validation answers 405 rather than 400. */
function methodName(value: unknown): unknown {
  if (typeof value !== 'number' || !Number.isInteger(value)) return value;
  return METHOD_NAMES[value] ?? String(value);
}

function readToken(r: CborReader): unknown {
  const initial = r.bytes[r.pos]!;
  if (initial >> 5 !== 4) return r.value();
  r.pos++;
  const length = r.argument(initial);
  const out: unknown[] = [];
  for (let i = 0; length < 0 ? !r.isBreak() : i < length; i++) {
    const part = r.bytes[r.pos]!;
    if (part >> 5 === 2) {
      r.pos++;
      const bytes = r.byteString(r.argument(part));
      out.push(bytes.length === 16 ? uuidString(bytes) : base64url(bytes));
    } else {
      out.push(r.value());
    }
  }
  return out;
}

function readEndpoint(r: CborReader): unknown {
  const initial = r.bytes[r.pos]!;
  if (initial >> 5 !== 5) return r.value();
  r.pos++;
  const count = r.argument(initial);
  const out: Record<string, unknown> = {};
  for (let i = 0; count < 0 ? !r.isBreak() : i < count; i++) {
    const keyStart = r.pos;
    const integer = r.bytes[keyStart]! >> 5 === 0;
    const key = r.key();
    const name = integer && key === '1' ? 'method' : integer && key === '2' ? 'resource' : key;
    if (Object.hasOwn(out, name)) throw duplicate(`endpoint.${name}`, keyStart);
    setMember(out, name, name === 'method' ? methodName(r.value()) : r.value());
  }
  return out;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function uuidString(b: Uint8Array): string {
  return (
    HEX[b[0]!]! + HEX[b[1]!]! + HEX[b[2]!]! + HEX[b[3]!]! + '-' +
    HEX[b[4]!]! + HEX[b[5]!]! + '-' + HEX[b[6]!]! + HEX[b[7]!]! + '-' +
    HEX[b[8]!]! + HEX[b[9]!]! + '-' +
    HEX[b[10]!]! + HEX[b[11]!]! + HEX[b[12]!]! + HEX[b[13]!]! + HEX[b[14]!]! + HEX[b[15]!]!
  );
}

/** The compact CBOR codec behind the DispatchCodec interface. */
export const cborCodec: DispatchCodec = {
  encodeDispatch: (dispatch) => encodeDispatch(dispatch),
  decodeDispatch: (bytes) => decodeDispatch(bytes),
};

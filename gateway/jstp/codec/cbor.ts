/**
 * Compact CBOR dispatches (shared/JSTP.md, "This project's extensions"): integer keys
 * for the known headers, integer methods, UUID token elements as 16-byte strings,
 * deterministic encoding; version 2's short protocol header and resource aliases
 * (key 9). Decoding accepts that form, plain text-key CBOR and maps in tag 259, and
 * returns the JSON-shaped object that `validateDispatch` takes.
 *
 * `encodeDispatch` and `decodeDispatch` keep no state (no aliases); a link's codec
 * (`cborCodec.openLink`, cbor-link.ts) adds its alias tables around the same encoder.
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

/** Header name -> integer key (index). Key 9 is the resource alias, which is no header. */
export const HEADER_KEYS = ['protocol', 'method', 'resource', 'timestamp', 'token', 'host', 'body', 'endpoint', 'referer'] as const;

export { METHOD_CODES } from './method-codes.js';

/** The integer key of a resource alias (version 2). */
export const ALIAS_KEY = 9;
/** The largest alias; a link's table holds aliases 1 to this. */
export const MAX_ALIAS = 255;

const METHOD_NAMES: readonly (string | undefined)[] = (() => {
  const names: (string | undefined)[] = [];
  for (const [name, code] of Object.entries(METHOD_CODES)) names[code] = name;
  return names;
})();

const HEADER_INDEX: ReadonlyMap<string, number> = new Map(HEADER_KEYS.map((name, index) => [name, index]));

const EMPTY = new Uint8Array(0);

/**
 * Encodes a dispatch as compact, deterministic CBOR, with no alias. Map keys come out
 * sorted: header keys 0-8 (one byte each) first, then other headers' text keys in
 * encoded byte order. An absent token is omitted: in CBOR no token means no
 * transaction; JSON's `token: []` exists only for node-jstp, which never reads CBOR.
 * The result may share its ArrayBuffer with other results (see CborWriter).
 * Throws PasarelaError (BadDispatch) for values JSON cannot hold (bigint, cycles).
 */
export function encodeDispatch(dispatch: Dispatch): Uint8Array {
  return encodeWith(dispatch, true);
}

/**
 * The version 1 form: `encodeDispatch` with the protocol header as an array of text
 * (for comparisons, and for a peer that predates version 2).
 */
export function encodeDispatchV1(dispatch: Dispatch): Uint8Array {
  return encodeWith(dispatch, false);
}

function encodeWith(dispatch: Dispatch, shortHeader: boolean): Uint8Array {
  const encoder = takeEncoder();
  try {
    return encoder.encode(dispatch, shortHeader).bytes;
  } finally {
    idleEncoder = encoder;
  }
}

/**
 * Where the parts of an encoded dispatch lie, so a link can write the same dispatch
 * with an alias (key 9 after the header keys, the resource left out of a use) by
 * copying parts instead of encoding again: what one dispatch fanned out to many
 * links costs.
 */
export interface EncodedLayout {
  /** The dispatch with no alias. */
  bytes: Uint8Array;
  /** Entries of the top-level map, and the length of its head. */
  count: number;
  head: number;
  /** The resource entry (key and value), or -1 when there is none. */
  resourceStart: number;
  resourceEnd: number;
  /** Where key 9 goes: after the header keys, before the security (negative) and text keys. */
  aliasAt: number;
}

class CompactEncoder {
  readonly w = new CborWriter();
  private readonly values: unknown[] = new Array<unknown>(HEADER_KEYS.length);
  private readonly others: string[] = [];
  private readonly layout: EncodedLayout = { bytes: EMPTY, count: 0, head: 0, resourceStart: -1, resourceEnd: -1, aliasAt: 0 };
  /** Security headers written as their CBOR items under negative keys, by SECURITY_HEADERS index. */
  private readonly security: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SECURITY_HEADERS.length);

  /**
   * The layout is this encoder's own, valid until its next call. With `alias` >= 0,
   * key 9 is written with it, and the resource is left out unless `withResource`
   * (the layout then describes that form, not the plain one).
   */
  encode(d: Dispatch, shortHeader: boolean, alias = -1, withResource = true): EncodedLayout {
    const { w, values, others, layout, security } = this;
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
        } else if (!(index === 4 && Array.isArray(value) && value.length === 0) && (index !== 2 || withResource)) {
          values[index] = value;
          present |= 1 << index;
          count++;
        }
      }
      if (otherCount > 1) sortTextKeys(others, otherCount);
      if (alias >= 0) count++;
      w.head(5, count + securityCount + otherCount);
      layout.count = count + securityCount + otherCount;
      layout.head = w.offset;
      layout.resourceStart = -1;
      layout.resourceEnd = -1;
      for (let i = 0; i < values.length; i++) {
        if (!(present & (1 << i))) continue;
        const value = values[i];
        if (i === 2) layout.resourceStart = w.offset;
        w.head(0, i);
        if (i === 0) writeProtocol(w, value, shortHeader);
        else if (i === 1) writeMethod(w, value);
        else if (i === 4) writeToken(w, value);
        else if (i === 7) writeEndpoint(w, value);
        else w.value(value, 1);
        if (i === 2) layout.resourceEnd = w.offset;
      }
      if (alias >= 0) {
        w.head(0, ALIAS_KEY);
        w.head(0, alias);
      }
      layout.aliasAt = w.offset;
      // Negative keys sort after the unsigned ones (key 9 included) and before text (RFC 8949 §4.2.1).
      for (let i = 0; securityCount > 0 && i < security.length; i++) {
        const item = security[i];
        if (!item) continue;
        w.head(1, i);
        w.raw(item, 0, item.length);
      }
      for (let i = 0; i < otherCount; i++) {
        w.text(others[i]!);
        w.value(d[others[i]!], 1);
      }
      layout.bytes = w.finish();
      return layout;
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

  /**
   * `layout`'s dispatch with key 9 = `alias` (0 = "I accept aliases"), leaving the
   * resource out when `withResource` is false (an alias use).
   */
  aliased(layout: EncodedLayout, alias: number, withResource: boolean): Uint8Array {
    const { w } = this;
    const { bytes, resourceStart, resourceEnd, aliasAt } = layout;
    const dropped = !withResource && resourceStart >= 0;
    w.begin();
    w.head(5, layout.count + (dropped ? 0 : 1));
    if (dropped) {
      w.raw(bytes, layout.head, resourceStart);
      w.raw(bytes, resourceEnd, aliasAt);
    } else {
      w.raw(bytes, layout.head, aliasAt);
    }
    w.head(0, ALIAS_KEY);
    w.head(0, alias);
    w.raw(bytes, aliasAt, bytes.length);
    return w.finish();
  }
}

let idleEncoder: CompactEncoder | undefined = new CompactEncoder();

/** An encoder no call is using: a toJSON in a body may call back in while one is busy. */
function takeEncoder(): CompactEncoder {
  const encoder = idleEncoder ?? new CompactEncoder();
  idleEncoder = undefined;
  return encoder;
}

// The layout of the dispatch encoded last for a link, kept until the current task
// ends: the engine hands one dispatch to every subscribed link in a row.
let memoOf: Dispatch | undefined;
const memo: EncodedLayout = { bytes: EMPTY, count: 0, head: 0, resourceStart: -1, resourceEnd: -1, aliasAt: 0 };
let memoClearQueued = false;
const clearMemo = (): void => {
  memoClearQueued = false;
  memoOf = undefined;
  directOf = undefined;
  memo.bytes = EMPTY;
};

/**
 * The layout of `dispatch` in the short form, shared by every link that sends it in
 * the current task (a caller that changes the dispatch and sends it again later gets
 * the new content). Valid until the next call.
 */
export function layoutOf(dispatch: Dispatch): EncodedLayout {
  if (dispatch === memoOf) return memo;
  const encoder = takeEncoder();
  try {
    const layout = encoder.encode(dispatch, true);
    memo.bytes = layout.bytes;
    memo.count = layout.count;
    memo.head = layout.head;
    memo.resourceStart = layout.resourceStart;
    memo.resourceEnd = layout.resourceEnd;
    memo.aliasAt = layout.aliasAt;
  } finally {
    idleEncoder = encoder;
  }
  memoOf = dispatch;
  if (!memoClearQueued) {
    memoClearQueued = true;
    queueMicrotask(clearMemo);
  }
  return memo;
}

// The dispatch a link last wrote with an alias in one pass, until the current task
// ends: a second link writing it too makes the layout the others then share.
let directOf: Dispatch | undefined;

/**
 * `dispatch` with key 9 = `alias` (0 = "I accept aliases"), its resource left out
 * unless `withResource`. One link alone encodes it in one pass; when more links write
 * the same dispatch in a task (a fan-out), they copy the parts of one shared layout.
 */
export function encodeAliased(dispatch: Dispatch, alias: number, withResource: boolean): Uint8Array {
  const layout = dispatch === memoOf ? memo : dispatch === directOf ? layoutOf(dispatch) : undefined;
  const encoder = takeEncoder();
  try {
    if (layout) return encoder.aliased(layout, alias, withResource);
    const bytes = encoder.encode(dispatch, true, alias, withResource).bytes;
    directOf = dispatch;
    if (!memoClearQueued) {
      memoClearQueued = true;
      queueMicrotask(clearMemo);
    }
    return bytes;
  } finally {
    idleEncoder = encoder;
  }
}

/** `["JSTP", "0.5", ...tags]` as `5` or `[5, ...tags]` when `short`; any other value as it is. */
function writeProtocol(w: CborWriter, protocol: unknown, short: boolean): void {
  const version = short ? shortVersion(protocol) : -1;
  if (version < 0) {
    w.value(protocol, 1);
    return;
  }
  const p = protocol as string[];
  if (p.length === 2) {
    w.head(0, version);
    return;
  }
  w.head(4, p.length - 1);
  w.head(0, version);
  for (let i = 2; i < p.length; i++) w.text(p[i]!);
}

/** v for `["JSTP", "0.v", ...text]` (one digit), -1 for any other protocol header. */
function shortVersion(protocol: unknown): number {
  if (!Array.isArray(protocol) || protocol.length < 2 || protocol[0] !== 'JSTP') return -1;
  const version = protocol[1];
  if (typeof version !== 'string' || version.length !== 3 || version.charCodeAt(0) !== 0x30 || version.charCodeAt(1) !== 0x2e) return -1;
  const digit = version.charCodeAt(2) - 0x30;
  if (digit < 0 || digit > 9) return -1;
  for (let i = 2; i < protocol.length; i++) if (typeof protocol[i] !== 'string') return -1;
  return digit;
}

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

/**
 * A link's table of the aliases its peer defined (cbor-link.ts). The stateless
 * decoder has none: it ignores definitions and refuses uses.
 */
export interface AliasTable {
  /** The peer sent key 9 with this value: it accepts aliases. */
  heard(alias: number): void;
  /** The peer (re)defined `alias` as `resource`. */
  define(alias: number, resource: unknown): void;
  /** A copy of the resource the peer defined `alias` as, if it did. */
  resolve(alias: number): unknown[] | undefined;
}

export interface DecodeOptions {
  limits?: Partial<CborLimits>;
  aliases?: AliasTable;
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
  const scanner = limits === DEFAULT_CBOR_LIMITS ? defaultScanner : new CborScanner(limits);
  return decodeWith(scanner, limits.maxBytes, bytes, options?.aliases);
}

/** `decodeDispatch` with a scanner of the caller's (a link's limits) and its alias table. */
export function decodeWith(scanner: CborScanner, maxBytes: number, bytes: Uint8Array, aliases: AliasTable | undefined): Record<string, unknown> {
  let start = 0;
  // The self-described CBOR prefix (tag 55799) that some encoders write.
  if (bytes.length >= 3 && bytes[0] === 0xd9 && bytes[1] === 0xd9 && bytes[2] === 0xf7) start = 3;
  if (bytes.length - start > maxBytes) {
    throw new CborDecodeError('too-large', `${bytes.length - start} bytes are over the limit of ${maxBytes}`);
  }
  scanner.reset();
  const length = scanner.scan(bytes, start, bytes.length);
  if (length === NEED_MORE) {
    throw new CborDecodeError('truncated', 'input ends inside the dispatch', { offset: bytes.length - start });
  }
  if (start + length !== bytes.length) {
    throw new CborDecodeError('trailing-bytes', `${bytes.length - start - length} bytes after the dispatch`, { offset: length });
  }
  return decodeScanned(bytes, start, aliases);
}

/**
 * Reads one dispatch from an item that CborScanner accepted, starting at `start`.
 * Throws CborDecodeError for a well-formed item that is no dispatch map.
 */
export function decodeScanned(item: Uint8Array, start = 0, aliases?: AliasTable): Record<string, unknown> {
  const r = reader;
  r.reset(item, start);
  try {
    return readDispatch(r, aliases);
  } finally {
    r.reset(EMPTY, 0); // keep no reference to the caller's bytes
  }
}

function readDispatch(r: CborReader, aliases: AliasTable | undefined): Record<string, unknown> {
  r.skipMapTag();
  const initial = r.bytes[r.pos++]!;
  if (initial >> 5 !== 5) throw new CborDecodeError('not-a-dispatch', 'a dispatch must be a CBOR map', { offset: 0 });
  const count = r.argument(initial);
  const out: Record<string, unknown> = {};
  let seen = 0; // known headers read so far, as a bit set (integer or text key alike)
  let alias = -1;
  for (let i = 0; count < 0 ? !r.isBreak() : i < count; i++) {
    const keyStart = r.pos;
    const keyInitial = r.bytes[r.pos++]!;
    const major = keyInitial >> 5;
    const argument = r.argument(keyInitial);
    let index: number;
    if (major === 0 && argument < HEADER_KEYS.length) {
      index = argument;
    } else if (major === 0 && argument === ALIAS_KEY) {
      if (alias >= 0) throw duplicate('alias (key 9)', keyStart);
      alias = readAlias(r);
      continue;
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
      case 0: out.protocol = longProtocol(r.value()); break;
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
  if (alias >= 0) applyAlias(out, alias, (seen & (1 << 2)) !== 0, aliases);
  return out;
}

function readAlias(r: CborReader): number {
  const at = r.pos;
  const initial = r.bytes[r.pos++]!;
  const value = initial >> 5 === 0 ? r.argument(initial) : -1;
  if (value < 0 || value > MAX_ALIAS) throw new CborDecodeError('bad-alias', `a resource alias must be an unsigned integer up to ${MAX_ALIAS}`, { offset: at });
  return value;
}

/** Key 9: 0 says the peer accepts aliases; with a resource it defines the alias, without one it uses it. */
function applyAlias(out: Record<string, unknown>, alias: number, hasResource: boolean, aliases: AliasTable | undefined): void {
  aliases?.heard(alias);
  if (alias === 0) return;
  if (hasResource) {
    aliases?.define(alias, out.resource);
    return;
  }
  const resource = aliases?.resolve(alias);
  if (!resource) throw new CborDecodeError('unknown-alias', `unknown resource alias ${alias}`, { partial: out });
  out.resource = resource;
}

const VERSIONS: readonly string[] = Array.from({ length: 10 }, (_, v) => `0.${v}`);

/** The short protocol header (`5`, `[5, "tag"]`) as the array of text it stands for; anything else as it is. */
function longProtocol(value: unknown): unknown {
  if (typeof value === 'number') return isVersion(value) ? ['JSTP', versionText(value)] : value;
  if (!Array.isArray(value) || !isVersion(value[0])) return value;
  const out = new Array<unknown>(value.length + 1);
  out[0] = 'JSTP';
  out[1] = versionText(value[0]);
  for (let i = 1; i < value.length; i++) out[i + 1] = value[i];
  return out;
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function versionText(version: number): string {
  return VERSIONS[version] ?? `0.${version}`;
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
  r.skipMapTag();
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


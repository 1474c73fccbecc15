import { Decoder, encode as cborXEncode } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CborDecodeError,
  decodeDispatch,
  encodeDispatch,
  encodeDispatchV1,
} from '../../gateway/jstp/codec/cbor.js';
import { compareTextKeys, halfBits } from '../../gateway/jstp/codec/cbor-writer.js';
import { halfToNumber } from '../../gateway/jstp/codec/cbor-read.js';
import { createDispatch, validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { ErrorCode, PasarelaError } from '../../gateway/jstp/errors.js';
import { encodeTextKeyed } from '../support/text-key-cbor.js';
import { anyDispatch, answerDispatch, jsonShape, regularDispatch, subscriptionDispatch } from './arbitraries.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const unhex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// An independent reader: cbor-x with Maps keeps integer and text keys apart, in wire order.
const mapReaderOptions = { useRecords: false, mapsAsObjects: false, int64AsNumber: true };
const mapReader = new Decoder(mapReaderOptions);

const utf8 = new TextEncoder();

/** The encoded bytes of a map key, written independently of the codec. */
function keyBytes(key: unknown): number[] {
  if (typeof key === 'number') return key < 24 ? [key] : [0x18, key];
  const body = [...utf8.encode(key as string)];
  const n = body.length;
  const head = n < 24 ? [0x60 | n] : n < 256 ? [0x78, n] : [0x79, n >> 8, n & 0xff];
  return [...head, ...body];
}

function compareBytes(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Every map in the tree has keys strictly ascending by encoded bytes (RFC 8949 §4.2.1). */
function assertSortedKeys(value: unknown): void {
  if (Array.isArray(value)) value.forEach(assertSortedKeys);
  if (!(value instanceof Map)) return;
  const keys = [...value.keys()].map(keyBytes);
  for (let i = 1; i < keys.length; i++) expect(compareBytes(keys[i - 1]!, keys[i]!)).toBeLessThan(0);
  for (const item of value.values()) assertSortedKeys(item);
}

function decodeError(bytes: Uint8Array, limits?: Parameters<typeof decodeDispatch>[1]): CborDecodeError {
  try {
    decodeDispatch(bytes, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(CborDecodeError);
    expect((error as CborDecodeError).code).toBe(ErrorCode.DecodeError);
    return error as CborDecodeError;
  }
  throw new Error(`decoded without error: ${hex(bytes)}`);
}

const AT = 1_700_000_000_000;
const TX = '3f0c9a52-8d4e-4c1b-9e7a-2b5d6f8a1c03';

describe('encodeDispatch', () => {
  it('writes integer header keys in order, integer methods, a 16-byte token and the short protocol header', () => {
    const d = createDispatch('GET', ['a'], { timestamp: 1, token: [TX] });
    const rest =
      '01' + '01' + // method GET
      '02' + '81' + '6161' + // resource ["a"]
      '03' + '01' + // timestamp
      '04' + '81' + '50' + '3f0c9a528d4e4c1b9e7a2b5d6f8a1c03'; // token
    expect(hex(encodeDispatch(d))).toBe('a5' + '00' + '82' + '05' + '687061736172656c61' + rest); // [5, "pasarela"]
    expect(hex(encodeDispatchV1(d))).toBe('a5' + '00' + '83' + '644a535450' + '63302e35' + '687061736172656c61' + rest);
  });

  it('writes the protocol header short only for JSTP 0.<digit> with text tags', () => {
    const protocolOf = (protocol: unknown[]) => (mapReader.decode(encodeDispatch({ ...createDispatch('GET', ['a'], { timestamp: 0 }), protocol } as Dispatch)) as Map<unknown, unknown>).get(0);
    expect(protocolOf(['JSTP', '0.5'])).toBe(5);
    expect(protocolOf(['JSTP', '0.4'])).toBe(4);
    expect(protocolOf(['JSTP', '0.6', 'pasarela', 'x'])).toEqual([6, 'pasarela', 'x']);
    for (const long of [['jstp', '0.5'], ['JSTP', '0.10'], ['JSTP', '1.0'], ['JSTP', '0.5', 7], ['JSTP'], ['JSTP', '0.x']]) {
      expect(protocolOf(long)).toEqual(long);
    }
    for (const protocol of [['JSTP', '0.5'], ['JSTP', '0.6', 'pasarela', 'x'], ['JSTP', '0.10'], ['jstp', '0.5']]) {
      expect(decodeDispatch(encodeDispatch({ ...createDispatch('GET', ['a'], { timestamp: 0 }), protocol } as Dispatch)).protocol).toEqual(protocol);
    }
  });

  it('reads a short protocol header of any version', () => {
    expect(decodeDispatch(unhex('a1 00 05')).protocol).toEqual(['JSTP', '0.5']);
    expect(decodeDispatch(unhex('a1 00 0c')).protocol).toEqual(['JSTP', '0.12']);
    expect(decodeDispatch(unhex('a1 00 83 06 61 61 61 62')).protocol).toEqual(['JSTP', '0.6', 'a', 'b']);
    // Not a version: left for validation to refuse.
    expect(decodeDispatch(unhex('a1 00 20')).protocol).toBe(-1);
  });

  it('uses each method code of the table', () => {
    const codes: Record<string, number> = { GET: 1, POST: 2, PUT: 3, DELETE: 4, PATCH: 6, BIND: 8, RELEASE: 9, ANSWER: 10 };
    for (const [method, code] of Object.entries(codes)) {
      const bytes = encodeDispatch({ protocol: ['JSTP', '0.5'], method, timestamp: 0 } as Dispatch);
      expect(hex(bytes)).toContain(`01${code.toString(16).padStart(2, '0')}`);
      const map = mapReader.decode(bytes) as Map<unknown, unknown>;
      expect(map.get(1)).toBe(code);
      expect((decodeDispatch(bytes) as Record<string, unknown>).method).toBe(method);
    }
  });

  it('omits an absent or empty token instead of writing []', () => {
    const d = createDispatch('GET', ['a'], { timestamp: 1 });
    expect((mapReader.decode(encodeDispatch(d)) as Map<unknown, unknown>).has(4)).toBe(false);
    const empty = { ...d, token: [] } as unknown as Dispatch;
    expect(hex(encodeDispatch(empty))).toBe(hex(encodeDispatch(d)));
  });

  it('keeps upper-case UUIDs and other token strings as text', () => {
    const upper = TX.toUpperCase();
    const d = createDispatch('GET', ['a'], { timestamp: 1, token: [upper, 'not-a-uuid'] });
    const token = (mapReader.decode(encodeDispatch(d)) as Map<unknown, unknown>).get(4);
    expect(token).toEqual([upper, 'not-a-uuid']);
    expect(decodeDispatch(encodeDispatch(d)).token).toEqual([upper, 'not-a-uuid']);
  });

  it('writes the endpoint as {1: method, 2: pattern}, "*" as text', () => {
    const d: Dispatch = { protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method: '*', resource: ['...'] }, timestamp: 2 };
    const map = mapReader.decode(encodeDispatch(d)) as Map<unknown, unknown>;
    expect(map.get(1)).toBe(8);
    expect([...(map.get(7) as Map<unknown, unknown>).entries()]).toEqual([[1, '*'], [2, ['...']]]);
    const p = { ...d, endpoint: { method: 'PATCH', resource: ['x'] } } as Dispatch;
    expect([...((mapReader.decode(encodeDispatch(p)) as Map<unknown, unknown>).get(7) as Map<unknown, unknown>).entries()])
      .toEqual([[1, 6], [2, ['x']]]);
  });

  it('writes integers in their shortest form', () => {
    const cases: Array<[number, string]> = [
      [0, '00'], [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [65535, '19ffff'],
      [65536, '1a00010000'], [2 ** 32 - 1, '1affffffff'], [2 ** 32, '1b0000000100000000'],
      [AT, '1b0000018bcfe56800'], [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-1, '20'], [-24, '37'], [-25, '3818'], [-256, '38ff'], [-257, '390100'],
      [-(2 ** 32), '3affffffff'], [-Number.MAX_SAFE_INTEGER, '3b001ffffffffffffe'],
    ];
    for (const [value, expected] of cases) {
      const bytes = encodeDispatch({ protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 0, body: value } as Dispatch);
      // the body is the last header: key 06, then the value
      expect(hex(bytes).endsWith(`06${expected}`), `${value}`).toBe(true);
      expect(decodeDispatch(bytes).body).toBe(value);
    }
  });

  it('writes floats in the shortest exact form: half, single, double', () => {
    const cases: Array<[number, string]> = [
      [21.5, 'f94d60'], [1.5, 'f93e00'], [-0.5, 'f9b800'], [5.960464477539063e-8, 'f90001'],
      [0.00006103515625, 'f90400'], [100000.5, 'fa47c35040'], [3.4028234663852886e38, 'fa7f7fffff'],
      [0.1, 'fb3fb999999999999a'], [1e300, 'fb7e37e43c8800759c'], [2 ** 64, 'fa5f800000'],
      [2 ** 53 + 2, 'fb4340000000000001'],
    ];
    for (const [value, expected] of cases) {
      const bytes = encodeDispatch({ protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 0, body: value } as Dispatch);
      expect(hex(bytes).endsWith(`06${expected}`), `${value}`).toBe(true);
      expect(decodeDispatch(bytes).body).toBe(value);
    }
  });

  it('converts half floats exactly, both ways, for every finite half', () => {
    let checked = 0;
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue; // NaN and infinities
      const value = halfToNumber(bits);
      if (value === 0) continue; // ±0 are integers, written as 0
      expect(halfBits(value)).toBe(bits);
      checked++;
    }
    expect(checked).toBe(63486);
    expect(halfBits(1 + 2 ** -11)).toBe(-1);
    expect(halfBits(65520)).toBe(-1);
    expect(halfBits(2 ** -25)).toBe(-1);
  });

  it('sorts map keys by encoded bytes, not by JS string order', () => {
    const body = { b: 1, aa: 2, a: 3, 10: 4, é: 5, '\u{1F600}': 6, '\uE000a': 7 };
    const bytes = encodeDispatch({ protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 0, body } as Dispatch);
    const map = (mapReader.decode(bytes) as Map<unknown, unknown>).get(6) as Map<string, unknown>;
    // 61 61 | 61 62 | 62 31 30 | 62 61 61 | 62 c3 a9 | 64 ee 80 80 61 | 64 f0 9f 98 80
    expect([...map.keys()]).toEqual(['a', 'b', '10', 'aa', 'é', '\uE000a', '\u{1F600}']);
    expect(compareTextKeys('\uE000a', '\u{1F600}')).toBeLessThan(0);
    expect('\uE000a' < '\u{1F600}').toBe(false); // what a plain sort would get wrong
  });

  it('puts unknown headers after the integer keys, sorted', () => {
    const d = { protocol: ['JSTP', '0.5'], method: 'GET', resource: ['x'], timestamp: 0, zz: 1, b: 2, '1': 3 } as Dispatch;
    const map = mapReader.decode(encodeDispatch(d)) as Map<unknown, unknown>;
    expect([...map.keys()]).toEqual([0, 1, 2, 3, '1', 'b', 'zz']);
    expect(decodeDispatch(encodeDispatch(d))).toEqual({ protocol: ['JSTP', '0.5'], method: 'GET', resource: ['x'], timestamp: 0, zz: 1, b: 2, '1': 3 });
  });

  it('follows JSON.stringify for values JSON has no form for', () => {
    const body = {
      skipped: undefined,
      fn: () => 1,
      list: [undefined, () => 1, NaN, Infinity, -0],
      when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      custom: { toJSON: () => ({ z: 1 }) },
      nan: NaN,
    };
    const d = { protocol: ['JSTP', '0.5'], method: 'GET', resource: ['x'], timestamp: 0, body, gone: undefined } as Dispatch;
    expect(decodeDispatch(encodeDispatch(d))).toEqual(jsonShape(d));
    expect(decodeDispatch(encodeDispatch(d)).body).toEqual({
      list: [null, null, null, null, 0], when: '2024-01-02T03:04:05.000Z', custom: { z: 1 }, nan: null,
    });
  });

  it('refuses bigint and cycles with a BadDispatch PasarelaError', () => {
    const big = { protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 0, body: { n: 1n } } as Dispatch;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const loop = { protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 0, body: cyclic } as Dispatch;
    for (const d of [big, loop]) {
      let caught: unknown;
      try {
        encodeDispatch(d);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(PasarelaError);
      expect((caught as PasarelaError).code).toBe(ErrorCode.BadDispatch);
    }
    // the encoder is still usable and clean after a failure
    const ok = createDispatch('GET', ['a'], { timestamp: 1 });
    expect(decodeDispatch(encodeDispatch(ok)).resource).toEqual(['a']);
  });

  it('writes no deeper nesting than the decoder accepts by default', () => {
    const nest = (levels: number): unknown => (levels === 0 ? 1 : [nest(levels - 1)]);
    const at = (levels: number) => ({ protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 0, body: nest(levels) }) as Dispatch;
    expect(decodeDispatch(encodeDispatch(at(31))).body).toEqual(nest(31)); // 31 arrays + the dispatch map = 32
    expect(() => encodeDispatch(at(32))).toThrow(PasarelaError);
  });

  it('writes Uint8Array as a byte string, read back as base64url', () => {
    const d = { protocol: ['JSTP', '0.5'], method: 'GET', resource: ['x'], timestamp: 0, body: { raw: new Uint8Array([0xfb, 0xff, 0x01]) } } as Dispatch;
    const bytes = encodeDispatch(d);
    expect(hex(bytes)).toContain('6372617743fbff01');
    expect(decodeDispatch(bytes).body).toEqual({ raw: '-_8B' });
  });

  it('gives results that stay intact after later encodes', () => {
    const first = encodeDispatch(createDispatch('GET', ['first'], { timestamp: 1 }));
    const copy = hex(first);
    for (let i = 0; i < 2000; i++) encodeDispatch(createDispatch('PUT', ['x'.repeat(i % 300)], { timestamp: i }));
    expect(hex(first)).toBe(copy);
  });
});

describe('decodeDispatch', () => {
  it('reads maps in tag 259, as cbor-x writes a JavaScript Map with its default options', () => {
    const dispatch = new Map<unknown, unknown>([
      [0, ['JSTP', '0.5']],
      [1, 2],
      [2, ['devices', 'coffee', 'actions', 'brew']],
      [3, AT],
      [6, new Map<unknown, unknown>([['size', 'large'], [7, true]])],
    ]);
    const bytes = cborXEncode(dispatch);
    expect(hex(bytes.subarray(0, 3))).toBe('d90103');
    const decoded = decodeDispatch(bytes);
    expect(decoded).toEqual({ protocol: ['JSTP', '0.5'], method: 'POST', resource: ['devices', 'coffee', 'actions', 'brew'], timestamp: AT, body: { size: 'large', '7': true } });
    expect(validateDispatch(decoded).ok).toBe(true);
    // The endpoint of a BIND too.
    const bind = cborXEncode(new Map<unknown, unknown>([[0, 5], [1, 8], [3, AT], [7, new Map<unknown, unknown>([[1, 6], [2, ['a']]])]]));
    expect(decodeDispatch(bind).endpoint).toEqual({ method: 'PATCH', resource: ['a'] });
  });

  it('reads the text-key form (plain CBOR of the JSON object)', () => {
    const d = createDispatch('POST', ['devices', 'coffee', 'actions', 'brew'], { timestamp: AT, token: [TX], body: { size: 'large' } });
    const decoded = decodeDispatch(encodeTextKeyed(d));
    expect(decoded).toEqual(JSON.parse(JSON.stringify(decoded)));
    expect(decoded).toEqual({ ...jsonShape(d), token: [TX] });
    const validated = validateDispatch(decoded);
    expect(validated.ok && validated.dispatch).toEqual(d);
  });

  it('reads text keys in any case, as JSON does, leaving validation to validateDispatch', () => {
    const raw = { Method: 'get', PROTOCOL: ['jstp', '0.4'], resource: ['x'], timestamp: 5, token: [] };
    const decoded = decodeDispatch(encodeTextKeyed(raw as unknown as Dispatch));
    expect(decoded).toEqual(raw);
    const validated = validateDispatch(decoded, 'quirks');
    expect(validated.ok).toBe(true);
  });

  it('accepts indefinite-length containers, non-shortest heads and the self-described tag', () => {
    // d9d9f7, then an indefinite map: 0: ["JSTP","0.5"], 1: 1 written as 1801, 2: indefinite ["a"], 3: 0
    const bytes = unhex('d9d9f7 bf 00 82 644a535450 63302e35 01 1801 02 9f 6161 ff 03 1900 00 ff');
    expect(decodeDispatch(bytes)).toEqual({ protocol: ['JSTP', '0.5'], method: 'GET', resource: ['a'], timestamp: 0 });
  });

  it('turns an unknown method code into digits, which validation answers 405', () => {
    const bytes = unhex('a4 00 82 644a535450 63302e35 01 05 02 81 6161 03 00');
    const decoded = decodeDispatch(bytes);
    expect(decoded.method).toBe('5');
    const validated = validateDispatch(decoded);
    expect(validated.ok).toBe(false);
    expect(!validated.ok && validated.status).toBe(405);
  });

  it('keeps __proto__ and "1" as own headers and body keys, like JSON.parse', () => {
    const json = '{"protocol":["JSTP","0.5"],"method":"GET","resource":["x"],"timestamp":0,"__proto__":{"polluted":true},"1":"one","body":{"__proto__":[1]}}';
    const parsed = JSON.parse(json) as Dispatch;
    const decoded = decodeDispatch(encodeDispatch(parsed));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(decoded).sort()).toEqual(Object.keys(parsed).sort());
    expect(JSON.stringify(decoded.__proto__)).toBe('{"polluted":true}');
    expect(decoded['1']).toBe('one');
    expect(Object.getOwnPropertyNames(decoded.body)).toEqual(['__proto__']);
  });

  it('reads integer keys inside bodies as their digits', () => {
    // body {1: "a", -2: "b"}
    const bytes = unhex('a3 00 82 644a535450 63302e35 01 01 06 a2 01 6161 21 6162');
    expect(decodeDispatch(bytes).body).toEqual({ '1': 'a', '-2': 'b' });
  });

  it('keeps a leading U+FEFF in text (it is data, not a byte-order mark)', () => {
    const d = { protocol: ['JSTP', '0.5'], method: 'GET', resource: ['\uFEFFx'], timestamp: 0, '\uFEFF': { '\uFEFF\u00e9': 1 } } as Dispatch;
    expect(decodeDispatch(encodeDispatch(d))).toEqual(jsonShape(d));
  });

  it('reads bignums (tags 2 and 3) as numbers, rounded as JSON.parse rounds them', () => {
    const body = (hexBody: string) => decodeDispatch(unhex(`a1 06 ${hexBody}`)).body;
    expect(body('c2 41 01')).toBe(1);
    expect(body('c2 49 010000000000000000')).toBe(2 ** 64);
    expect(body('c3 49 010000000000000000')).toBe(-1 - 2 ** 64);
    expect(body('c2 52 0100000000000000000000000000000000ff')).toBe(JSON.parse('87112285931760246646623899502532662132991'));
    expect(body(`c2 58 7f ff${'00'.repeat(126)}`)).toBe(0xff * 2 ** (8 * 126));
  });

  it('returns undefined members as undefined (JSON output drops them)', () => {
    const bytes = unhex('a3 00 82 644a535450 63302e35 01 01 06 a1 6161 f7');
    const decoded = decodeDispatch(bytes);
    expect(Object.hasOwn(decoded.body as object, 'a')).toBe(true);
    expect(JSON.stringify(decoded.body)).toBe('{}');
  });

  const refusals: Array<[string, string, string, Parameters<typeof decodeDispatch>[1]?]> = [
    ['truncated', 'a3 00 82 644a535450 63302e', 'truncated'],
    ['truncated head', 'a1 00 1b 0000', 'truncated'],
    ['trailing bytes', 'a0 00', 'trailing-bytes'],
    ['reserved additional info', 'a1 00 1c', 'malformed'],
    ['stray break', 'a1 00 ff', 'malformed'],
    ['break after a key', 'bf 00 ff', 'malformed'],
    ['indefinite integer', 'a1 06 1f', 'malformed'],
    ['tag', 'a1 06 c1 00', 'unsupported'],
    ['bignum around text', 'a1 06 c2 61 01', 'unsupported'],
    ['bignum over 127 bytes', `a1 06 c2 58 80 ${'01'.repeat(128)}`, 'unsupported'],
    ['bignum as key', 'a1 06 a1 c2 41 01 00', 'bad-key'],
    ['truncated bignum', 'a1 06 c3 49 0100', 'truncated'],
    ['NaN', 'a1 06 f9 7e00', 'unsupported'],
    ['infinity', 'a1 06 fa 7f800000', 'unsupported'],
    ['double NaN', 'a1 06 fb 7ff8000000000000', 'unsupported'],
    ['simple value', 'a1 06 f0', 'unsupported'],
    ['two-byte simple value', 'a1 06 f8 20', 'unsupported'],
    ['indefinite text', 'a1 06 7f 6161 ff', 'unsupported'],
    ['array as key', 'a1 80 00', 'bad-key'],
    ['bytes as key', 'a1 06 a1 40 00', 'bad-key'],
    ['float as key', 'a1 06 a1 f93c00 00', 'bad-key'],
    ['negative header key', 'a1 20 00', 'bad-key'],
    ['unknown header key', 'a1 0a 00', 'bad-key'],
    ['alias that is text', 'a1 09 61 61', 'bad-alias'],
    ['alias over 255', 'a1 09 19 0100', 'bad-alias'],
    ['negative alias', 'a1 09 20', 'bad-alias'],
    ['alias used with no table', 'a2 01 01 09 01', 'unknown-alias'],
    ['tag 259 around an array', 'a1 06 d9 0103 80', 'unsupported'],
    ['tag 259 as a key', 'a1 06 a1 d9 0103 a0 00', 'bad-key'],
    ['duplicate integer key', 'a2 01 01 01 02', 'duplicate-header'],
    ['integer and text key of one header', 'a2 01 01 666d6574686f64 63474554', 'duplicate-header'],
    ['duplicate endpoint member', 'a1 07 a2 01 01 666d6574686f64 00', 'duplicate-header'],
    ['array at the top', '80', 'not-a-dispatch'],
    ['text at the top', '6161', 'not-a-dispatch'],
    ['empty input', '', 'truncated'],
    ['string longer than the input', 'a1 06 79 0100 6161', 'truncated'],
    ['string over the limit', 'a1 06 7a 00010001', 'string-too-long'],
    ['array over the limit', 'a1 06 9a 00010000', 'container-too-long'],
    ['map over the limit', 'a1 06 bb 0000000100000000', 'container-too-long'],
    ['array that cannot fit', 'a1 06 99 2000', 'too-large', { limits: { maxBytes: 100 } }],
    ['map that cannot fit', 'a1 06 b8 40', 'too-large', { limits: { maxBytes: 100 } }],
    ['2^64 string', 'a1 06 7b ffffffffffffffff', 'string-too-long'],
  ];
  for (const [name, input, reason, options] of refusals) {
    it(`refuses ${name} with reason ${reason}`, () => {
      expect(decodeError(unhex(input), options).reason).toBe(reason);
    });
  }

  it('enforces the nesting limit', () => {
    const nested = (depth: number) => unhex(`a1 06 ${'81'.repeat(depth - 1)} 00`); // outer map + body arrays
    expect(decodeDispatch(nested(32)).body).toBeDefined();
    expect(decodeError(nested(33)).reason).toBe('too-deep');
    expect(decodeError(nested(5), { limits: { maxDepth: 4 } }).reason).toBe('too-deep');
    // indefinite arrays count the same
    expect(decodeError(unhex(`a1 06 ${'9f'.repeat(40)}`)).reason).toBe('too-deep');
  });

  it('enforces the size, string and container limits given', () => {
    const d = createDispatch('POST', ['x'], { timestamp: 0, body: { list: Array.from({ length: 100 }, (_, i) => i), s: 'y'.repeat(300) } });
    const bytes = encodeDispatch(d);
    expect(decodeDispatch(bytes).body).toBeDefined();
    expect(decodeError(bytes, { limits: { maxBytes: bytes.length - 1 } }).reason).toBe('too-large');
    expect(decodeError(bytes, { limits: { maxStringBytes: 299 } }).reason).toBe('string-too-long');
    expect(decodeError(bytes, { limits: { maxContainerLength: 99 } }).reason).toBe('container-too-long');
    expect(decodeError(new Uint8Array(70_000)).reason).toBe('too-large');
    // an indefinite array counts its elements as it goes
    const indefinite = unhex(`a1 06 9f ${'00'.repeat(11)} ff`);
    expect(decodeError(indefinite, { limits: { maxContainerLength: 10 } }).reason).toBe('container-too-long');
  });

  it('reports the offset of the problem', () => {
    const error = decodeError(unhex('a2 00 80 01 c1 00'));
    expect(error.offset).toBe(4);
    expect(error.message).toMatch(/tag/);
  });
});

describe('round trips (property-based)', () => {
  const check = (d: Dispatch) => {
    const bytes = encodeDispatch(d);
    const decoded = decodeDispatch(bytes);
    // JSON -> CBOR -> JSON gives the same object...
    expect(decoded).toEqual(jsonShape(d));
    // ...which validates to the same dispatch (or the same refusal)
    expect(validateDispatch(decoded, 'strict', () => 0)).toEqual(validateDispatch(jsonShape(d), 'strict', () => 0));
    expect(validateDispatch(decoded, 'quirks', () => 0)).toEqual(validateDispatch(jsonShape(d), 'quirks', () => 0));
    // deterministic: encoding what was decoded gives the same bytes
    expect(hex(encodeDispatch(decoded as Dispatch))).toBe(hex(bytes));
    // keys sorted everywhere, read by an independent decoder
    assertSortedKeys(mapReader.decode(bytes));
  };

  it('regular dispatches', () => {
    fc.assert(fc.property(regularDispatch, check), { numRuns: 400 });
  });

  it('subscriptions', () => {
    fc.assert(fc.property(subscriptionDispatch, check), { numRuns: 300 });
  });

  it('answers', () => {
    fc.assert(fc.property(answerDispatch, check), { numRuns: 300 });
  });

  it('valid dispatches come back equal through validateDispatch', () => {
    let valid = 0;
    fc.assert(
      fc.property(anyDispatch, (raw) => {
        const first = validateDispatch(jsonShape(raw));
        if (!first.ok) return;
        valid++;
        const again = validateDispatch(decodeDispatch(encodeDispatch(first.dispatch)));
        expect(again.ok && again.dispatch).toEqual(first.dispatch);
      }),
      { numRuns: 400 },
    );
    expect(valid).toBeGreaterThan(100);
  });

  it('the text-key form decodes to the JSON object, token: [] included', () => {
    fc.assert(
      fc.property(anyDispatch, (d) => {
        const decoded = decodeDispatch(encodeTextKeyed(d));
        const json = JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
        if (json.token === undefined) json.token = [];
        expect(decoded).toEqual(json);
      }),
      { numRuns: 300 },
    );
  });

  it('key insertion order does not change the bytes', () => {
    fc.assert(
      fc.property(anyDispatch, fc.integer(), (d, seed) => {
        const keys = Object.keys(d);
        const shuffled: Record<string, unknown> = {};
        let s = seed;
        while (keys.length > 0) {
          s = (s * 1103515245 + 12345) | 0;
          const [key] = keys.splice(Math.abs(s) % keys.length, 1);
          Object.defineProperty(shuffled, key!, { value: d[key!], enumerable: true, writable: true, configurable: true });
        }
        expect(hex(encodeDispatch(shuffled as Dispatch))).toBe(hex(encodeDispatch(d)));
      }),
      { numRuns: 200 },
    );
  });
});

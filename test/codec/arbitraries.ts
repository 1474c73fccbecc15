/** fast-check arbitraries for valid dispatches of every morphology. */
import fc from 'fast-check';
import {
  METHODS,
  REGULAR_METHODS,
  SUBSCRIPTION_METHODS,
  serializeDispatch,
  type Dispatch,
} from '../../gateway/jstp/dispatch.js';

const KNOWN = new Set(['protocol', 'method', 'resource', 'endpoint', 'timestamp', 'token', 'host', 'body', 'referer']);

/** ASCII, any code point (no lone surrogates: UTF-8 cannot carry them), and graphemes. */
export const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);

export const finiteNumber = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(21.5, 0.1, 1.5, 65504, 65536, 2 ** 32, 2 ** 53, 2 ** 64, 1e300, 5.960464477539063e-8, 100000.5),
);

export const json: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
  fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }),
  fc.dictionary(text, fc.oneof(finiteNumber, text, fc.boolean(), fc.constant(null)), { maxKeys: 6 }),
);

const uuid = fc.uuid();
const tokenPart = fc.oneof(
  { weight: 4, arbitrary: uuid },
  { weight: 1, arbitrary: uuid.map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }) },
);
const token = fc.option(fc.oneof(fc.tuple(tokenPart), fc.tuple(tokenPart, tokenPart)), { nil: undefined });

const protocol = fc
  .tuple(fc.constantFrom('0.4', '0.5', '0.6'), fc.array(text, { maxLength: 2 }))
  .map(([version, tags]) => ['JSTP', version, ...tags]);

const timestamp = fc.oneof(
  fc.constant(1_700_000_000_000),
  fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  fc.double({ min: 0, max: 1e16, noNaN: true }),
);

const resourceElement = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const hop = fc.tuple(fc.string({ minLength: 1, maxLength: 15 }), fc.integer({ min: 0, max: 65535 }), fc.constantFrom('tcp', 'ws', 'wss', 'mqtt'));
const pattern = fc.array(fc.oneof(text, fc.constantFrom('*', '...', ':id', '\\*')), { minLength: 1, maxLength: 5 });

const headerName = text.filter((name) => !KNOWN.has(name.toLowerCase()));
const unknownHeaders = fc.dictionary(
  fc.oneof({ weight: 5, arbitrary: headerName }, { weight: 1, arbitrary: fc.constantFrom('1', '8', 'from', 'to', 'Zz') }),
  json,
  { maxKeys: 3 },
);

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

function assemble(parts: Record<string, unknown>, extra: Record<string, unknown>): Dispatch {
  const d: Record<string, unknown> = {};
  const set = (key: string, value: unknown) =>
    Object.defineProperty(d, key, { value, enumerable: true, writable: true, configurable: true });
  for (const [key, value] of Object.entries(extra)) set(key, value);
  for (const [key, value] of Object.entries(parts)) if (value !== undefined) set(key, value);
  return d as Dispatch;
}

export const regularDispatch = fc
  .record({
    protocol,
    method: fc.constantFrom(...REGULAR_METHODS),
    resource: fc.array(resourceElement, { minLength: 1, maxLength: 6 }),
    timestamp,
    token,
    host: optional(fc.array(hop, { minLength: 1, maxLength: 2 })),
    body: optional(json),
    referer: optional(json),
    extra: unknownHeaders,
  })
  .map(({ extra, ...parts }) => assemble(parts, extra));

export const subscriptionDispatch = fc
  .record({
    protocol,
    method: fc.constantFrom(...SUBSCRIPTION_METHODS),
    endpoint: fc.record({ method: fc.constantFrom('*', ...METHODS), resource: pattern }),
    timestamp,
    token,
    body: optional(json),
    extra: unknownHeaders,
  })
  .map(({ extra, ...parts }) => assemble(parts, extra));

export const answerDispatch = fc
  .record({
    protocol,
    method: fc.constant('ANSWER' as const),
    resource: fc.tuple(fc.integer({ min: 100, max: 599 }), fc.oneof(uuid, text), fc.oneof(uuid, text)),
    timestamp,
    body: optional(json),
    extra: unknownHeaders,
  })
  .map(({ extra, ...parts }) => assemble(parts, extra));

export const anyDispatch = fc.oneof(regularDispatch, subscriptionDispatch, answerDispatch);

/** What JSON gives back for a dispatch, minus node-jstp's `token: []`, which CBOR omits. */
export function jsonShape(d: Dispatch): Record<string, unknown> {
  const parsed = JSON.parse(serializeDispatch(d)) as Record<string, unknown>;
  if (Array.isArray(parsed.token) && parsed.token.length === 0) delete parsed.token;
  return parsed;
}

/**
 * Dispatch types, construction, validation (strict | quirks) and wire form.
 * See shared/JSTP.md. Pure: no I/O.
 */
import { Status } from './errors.js';
import { normalizePattern } from './endpoint.js';

export const REGULAR_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const SUBSCRIPTION_METHODS = ['BIND', 'RELEASE'] as const;
export const METHODS = [...REGULAR_METHODS, ...SUBSCRIPTION_METHODS, 'ANSWER'] as const;

export type RegularMethod = (typeof REGULAR_METHODS)[number];
export type SubscriptionMethod = (typeof SUBSCRIPTION_METHODS)[number];
export type Method = (typeof METHODS)[number];
export type EndpointMethod = Method | '*';
export type Mode = 'strict' | 'quirks';
export type Morphology = 'regular' | 'subscription' | 'answer';

export type ResourceElement = string | number;
/** One forwarding hop: `[address, port, label]`. */
export type Hop = [address: string, port: number, label: string];
/** `[transactionId]` or `[transactionId, triggeringId]`; absent means no transaction. */
export type Token = [string] | [string, string];

export interface Endpoint {
  method: EndpointMethod;
  /** Normalized pattern: every element a string (see endpoint.ts). */
  resource: string[];
}

export interface Dispatch {
  protocol: string[];
  method: Method;
  resource?: ResourceElement[];
  endpoint?: Endpoint;
  timestamp: number;
  /** Never an empty array in memory: no transaction means no `token`. */
  token?: Token;
  host?: Hop[];
  body?: unknown;
  referer?: unknown;
  /** Unknown headers (0.6 `from`/`to`, resource-specific ones) are kept as they are. */
  [header: string]: unknown;
}

export const SUPPORTED_VERSIONS: readonly string[] = ['0.4', '0.5', '0.6'];
export const PROTOCOL_VERSION = '0.5';
export const IMPLEMENTATION_TAG = 'pasarela';

const METHOD_SET: ReadonlySet<string> = new Set(METHODS);
const KNOWN_HEADERS: ReadonlySet<string> = new Set([
  'protocol', 'method', 'resource', 'endpoint', 'timestamp', 'token', 'host', 'body', 'referer',
]);

export function morphologyOf(method: Method): Morphology {
  if (method === 'ANSWER') return 'answer';
  if (method === 'BIND' || method === 'RELEASE') return 'subscription';
  return 'regular';
}

// Shared by every dispatch this engine builds: nothing here mutates a protocol header.
const OWN_PROTOCOL: string[] = Object.freeze(['JSTP', PROTOCOL_VERSION, IMPLEMENTATION_TAG]) as unknown as string[];

/** The protocol header this engine writes (shared and frozen: copy it before changing it). */
export function defaultProtocol(): string[] {
  return OWN_PROTOCOL;
}

/** Builds a regular dispatch (GET, POST, ...) with the engine's protocol header. */
export function createDispatch(
  method: RegularMethod,
  resource: ResourceElement[],
  options: { body?: unknown; token?: Token; host?: Hop[]; referer?: unknown; timestamp?: number } = {},
): Dispatch {
  const dispatch: Dispatch = {
    protocol: defaultProtocol(),
    method,
    resource,
    timestamp: options.timestamp ?? Date.now(),
  };
  if (options.token) dispatch.token = options.token;
  if (options.host && options.host.length > 0) dispatch.host = options.host;
  if (options.body !== undefined) dispatch.body = options.body;
  if (options.referer !== undefined) dispatch.referer = options.referer;
  return dispatch;
}

export function createSubscription(method: SubscriptionMethod, endpoint: Endpoint, token?: Token): Dispatch {
  const dispatch: Dispatch = {
    protocol: defaultProtocol(),
    method,
    endpoint: { method: endpoint.method, resource: endpoint.resource },
    timestamp: Date.now(),
  };
  if (token) dispatch.token = token;
  return dispatch;
}

export function createAnswer(status: number, transactionId: string, triggeringId: string | undefined, body?: unknown): Dispatch {
  const dispatch: Dispatch = {
    protocol: defaultProtocol(),
    method: 'ANSWER',
    resource: triggeringId === undefined ? [status, transactionId] : [status, transactionId, triggeringId],
    timestamp: Date.now(),
  };
  if (body !== undefined) dispatch.body = body;
  return dispatch;
}

export type ValidationResult =
  | {
      ok: true;
      dispatch: Dispatch;
      repairs: string[];
      /**
       * A regular dispatch whose input already was its wire form: lower-case header
       * names, upper-case method, a `token` array, no `host`, nothing repaired. The
       * text it was parsed from can then be relayed as it is (Engine.receive's `text`).
       */
      pristine: boolean;
    }
  | {
      ok: false;
      status: number;
      reason: string;
      /** Present when the raw input carried one: the error can then be answered. */
      transactionId?: string;
      /** An invalid ANSWER is never answered (that could loop between engines). */
      answerable: boolean;
    };

class Invalid {
  constructor(readonly status: number, readonly reason: string) {}
}

function fail(reason: string, status: number = Status.BadDispatch): never {
  throw new Invalid(status, reason);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isResourceElement(value: unknown): value is ResourceElement {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** Reads `token[0]` from raw input without trusting anything else in it. */
function rawTransactionId(raw: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(raw)) {
    if (key.toLowerCase() !== 'token') continue;
    const token = raw[key];
    if (Array.isArray(token) && typeof token[0] === 'string' && token[0].length > 0) return token[0];
  }
  return undefined;
}

/**
 * Validates a parsed dispatch against its morphology. Strict mode rejects with 400
 * (405 for an unknown method, 505 for an unknown version); quirks mode repairs what
 * it can and lists the repairs. The input object is not modified.
 */
export function validateDispatch(raw: unknown, mode: Mode = 'strict', now: () => number = Date.now): ValidationResult {
  if (!isPlainObject(raw)) {
    return { ok: false, status: Status.BadDispatch, reason: 'dispatch is not a JSON object', answerable: false };
  }
  const repairs: string[] = [];
  const quirks = mode === 'quirks';
  let isAnswer = false;
  try {
    const headers = lowerCaseHeaders(raw, repairs);

    const method = readMethod(headers.method, quirks, repairs);
    isAnswer = method === 'ANSWER';
    const protocol = readProtocol(headers.protocol, quirks, repairs);

    const dispatch: Dispatch = { protocol, method, timestamp: 0 };
    dispatch.timestamp = readTimestamp(headers.timestamp, quirks, repairs, now);
    const token = readToken(headers.token, quirks, repairs);
    if (token) dispatch.token = token;

    const morphology = morphologyOf(method);
    if (morphology === 'subscription') {
      if (headers.resource !== undefined) {
        if (!quirks) fail(`${method} must not carry a resource`);
        repairs.push('resource removed from subscription');
      }
      dispatch.endpoint = readEndpoint(headers.endpoint, mode, repairs);
    } else {
      if (headers.endpoint !== undefined) {
        if (!quirks) fail(`${method} must not carry an endpoint`);
        repairs.push('endpoint removed');
      }
      dispatch.resource = morphology === 'answer'
        ? readAnswerResource(headers.resource, quirks, repairs)
        : readResource(headers.resource, quirks, repairs);
    }

    if (headers.host !== undefined) {
      if (morphology === 'answer') {
        if (!quirks) fail('an ANSWER must not carry host');
        repairs.push('host removed from answer');
      } else {
        const host = readHost(headers.host, quirks, repairs);
        if (host.length > 0) dispatch.host = host;
      }
    }
    if (headers.body !== undefined) dispatch.body = headers.body;
    if (headers.referer !== undefined) dispatch.referer = headers.referer;
    for (const key of Object.keys(headers)) {
      if (KNOWN_HEADERS.has(key)) continue;
      // defineProperty, so a `__proto__` header stays data and never becomes a prototype.
      Object.defineProperty(dispatch, key, { value: headers[key], enumerable: true, writable: true, configurable: true });
    }
    const pristine =
      headers === raw && repairs.length === 0 && morphology === 'regular' && raw.method === method &&
      Array.isArray(raw.token) && raw.host === undefined;
    return { ok: true, dispatch, repairs, pristine };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    const transactionId = rawTransactionId(raw);
    const result: ValidationResult = {
      ok: false,
      status: error.status,
      reason: error.reason,
      answerable: !isAnswer && transactionId !== undefined,
    };
    if (transactionId !== undefined) result.transactionId = transactionId;
    return result;
  }
}

/**
 * The headers under lower-case names. Engines write lower-case names, so the input
 * itself serves unless a name needs folding; only then is a copy made.
 */
function lowerCaseHeaders(raw: Record<string, unknown>, repairs: string[]): Record<string, unknown> {
  let folded = false;
  for (const key in raw) {
    if (!KNOWN_HEADERS.has(key) && key !== key.toLowerCase()) {
      folded = true;
      break;
    }
  }
  if (!folded) return raw;
  // No prototype: headers named `constructor` or `__proto__` are just headers.
  const headers: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(raw)) {
    const lower = key.toLowerCase();
    if (lower !== key && KNOWN_HEADERS.has(lower)) repairs.push(`header ${key} lower-cased`);
    if (Object.hasOwn(headers, lower)) fail(`header ${lower} appears twice`);
    headers[lower] = raw[key];
  }
  return headers;
}

function readMethod(value: unknown, quirks: boolean, repairs: string[]): Method {
  if (typeof value !== 'string' || value.length === 0) fail('method is missing or not a string');
  const upper = value.toUpperCase();
  if (!METHOD_SET.has(upper)) fail(`unknown method ${JSON.stringify(value)}`, Status.MethodNotAllowed);
  if (upper !== value && quirks) repairs.push('method upper-cased');
  return upper as Method;
}

function readProtocol(value: unknown, quirks: boolean, repairs: string[]): string[] {
  if (value === undefined && quirks) {
    repairs.push('protocol added');
    // A copy: the shared header marks what this engine built (the security stage signs that).
    return [...defaultProtocol()];
  }
  if (!Array.isArray(value) || value.length < 2) fail('protocol must be ["JSTP", version, ...]');
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') fail('protocol elements must be strings');
  if (value[0] !== 'JSTP' && value[0].toUpperCase() !== 'JSTP') fail(`protocol ${JSON.stringify(value[0])} is not JSTP`);
  if (!SUPPORTED_VERSIONS.includes(value[1])) {
    fail(`JSTP version ${JSON.stringify(value[1])} is not supported`, Status.VersionNotSupported);
  }
  // Kept as given, not copied: validation never changes its input, and neither does the engine.
  return value as string[];
}

function readTimestamp(value: unknown, quirks: boolean, repairs: string[], now: () => number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (!quirks) fail('timestamp is missing or not a non-negative number');
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    repairs.push('timestamp parsed from string');
    return Number(value);
  }
  repairs.push('timestamp set');
  return now();
}

function readToken(value: unknown, quirks: boolean, repairs: string[]): Token | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) fail('token must be an array');
  // node-jstp writes token: [] on every dispatch without a transaction.
  if (value.length === 0) return undefined;
  let parts: unknown[] = value;
  if (parts.length > 2) {
    if (!quirks) fail('token has more than two elements');
    repairs.push('token truncated to two elements');
    parts = parts.slice(0, 2);
  }
  const strings = parts.map((part) => {
    if (typeof part === 'string' && part.length > 0) return part;
    if (quirks && (typeof part === 'number' || (typeof part === 'string' && part.length > 0))) {
      repairs.push('token element converted to string');
      return String(part);
    }
    return fail('token elements must be non-empty strings');
  });
  return strings as Token;
}

function readResource(value: unknown, quirks: boolean, repairs: string[]): ResourceElement[] {
  if (quirks && (typeof value === 'string' || typeof value === 'number')) {
    repairs.push('resource wrapped in an array');
    return [value];
  }
  if (!Array.isArray(value) || value.length === 0) fail('resource must be a non-empty array');
  let clean = true;
  for (let i = 0; i < value.length && clean; i++) clean = isResourceElement(value[i]);
  if (clean) return value as ResourceElement[];
  return value.map((element) => {
    if (isResourceElement(element)) return element;
    if (!quirks) fail('resource elements must be strings or numbers');
    repairs.push('resource element converted to string');
    return typeof element === 'object' ? JSON.stringify(element) : String(element);
  });
}

function readAnswerResource(value: unknown, quirks: boolean, repairs: string[]): ResourceElement[] {
  if (!Array.isArray(value) || value.length < 2) fail('ANSWER resource must be [status, transactionId, triggeringId]');
  let [status, transactionId, triggeringId] = value as unknown[];
  if (typeof status === 'string' && /^\d{3}$/.test(status) && quirks) {
    repairs.push('answer status parsed from string');
    status = Number(status);
  }
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    fail('ANSWER status must be an integer from 100 to 599');
  }
  if (typeof transactionId !== 'string' || transactionId.length === 0) fail('ANSWER transaction id must be a string');
  if (value.length > 3) {
    if (!quirks) fail('ANSWER resource has more than three elements');
    repairs.push('answer resource truncated');
  }
  if (value.length === 2) return [status, transactionId];
  if (typeof triggeringId !== 'string' || triggeringId.length === 0) fail('ANSWER triggering id must be a string');
  return [status, transactionId, triggeringId];
}

function readEndpoint(value: unknown, mode: Mode, repairs: string[]): Endpoint {
  if (!isPlainObject(value)) fail('BIND and RELEASE need an endpoint object');
  let method: unknown;
  let resource: unknown;
  for (const key of Object.keys(value)) {
    const lower = key.toLowerCase();
    if (lower === 'method') method = value[key];
    else if (lower === 'resource') resource = value[key];
  }
  if (typeof method !== 'string') fail('endpoint.method must be a string');
  const upper = method.toUpperCase();
  if (upper !== '*' && !METHOD_SET.has(upper)) fail(`endpoint method ${JSON.stringify(method)} is unknown`);
  const normalized = normalizePattern(resource, mode);
  if (!normalized.ok) fail(`endpoint.resource: ${normalized.reason}`);
  if (normalized.repaired) repairs.push('endpoint pattern repaired');
  return { method: upper as EndpointMethod, resource: normalized.pattern };
}

function readHost(value: unknown, quirks: boolean, repairs: string[]): Hop[] {
  if (!Array.isArray(value)) fail('host must be an array of [address, port, label]');
  return value.map((hop) => {
    if (!Array.isArray(hop) || hop.length !== 3) fail('each host must be [address, port, label]');
    let [address, port, label] = hop as unknown[];
    if (typeof port === 'string' && quirks && /^\d+$/.test(port)) {
      repairs.push('host port parsed from string');
      port = Number(port);
    }
    if (typeof address !== 'string' || address.length === 0) fail('host address must be a non-empty string');
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) fail('host port must be 0-65535');
    if (typeof label !== 'string' || label.length === 0) fail('host label must be a non-empty string');
    return [address, port, label.toLowerCase()] as Hop;
  });
}

/**
 * The object written on the wire. `token: []` stands for "no token" because node-jstp
 * reads `token[0]` of every dispatch and throws when `token` is missing.
 */
export function toWire(dispatch: Dispatch): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const key of Object.keys(dispatch)) {
    const value = dispatch[key];
    if (value === undefined) continue;
    if (key === '__proto__') Object.defineProperty(wire, key, { value, enumerable: true, writable: true, configurable: true });
    else wire[key] = value;
  }
  if (!wire.token) wire.token = [];
  return wire;
}

/** The dispatch's JSON wire text: `toWire` then `JSON.stringify`, without the copy. */
export function serializeDispatch(dispatch: Dispatch): string {
  // The same text as JSON.stringify(toWire(dispatch)) without copying the object:
  // stringify already skips undefined values, and `token: []` goes last.
  const text = JSON.stringify(dispatch);
  return dispatch.token === undefined ? `${text.slice(0, -1)},"token":[]}` : text;
}

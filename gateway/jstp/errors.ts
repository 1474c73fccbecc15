/**
 * Every status and error code Pasarela emits, in one place. Callers compare codes,
 * never message strings.
 *
 * The catalogue below is the only source of codes: each entry fixes the JSTP status
 * its errors carry, so a code always comes with the same status, and `errors` has one
 * factory per entry (`errors.deviceNotFound('device "x" is unknown')`). docs/errors.md
 * explains every code; a test keeps the two in step.
 */

/** JSTP ANSWER statuses (JSTP 0.5, plus 0.6's 100 and 101). */
export const Status = {
  Acknowledge: 100,
  NoMoreAnswers: 101,
  Ok: 200,
  BadDispatch: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  UnboundEndpoint: 406,
  UnrecognizedTransport: 409,
  InternalError: 500,
  NotImplemented: 501,
  UnreachableHost: 502,
  InvalidHost: 503,
  Timeout: 504,
  VersionNotSupported: 505,
  GatewayDisabled: 506,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

export const statusText: Readonly<Record<number, string>> = {
  100: 'Acknowledge',
  101: 'No More Answers',
  200: 'Ok',
  400: 'Bad Dispatch',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Unbound Endpoint',
  409: 'Unrecognized Transport Protocol',
  500: 'Internal Error',
  501: 'Not Implemented',
  502: 'Unreachable Remote Host',
  503: 'Invalid Remote Host',
  504: 'Timeout',
  505: 'JSTP Version Not Supported',
  506: 'Gateway Disabled',
};

/**
 * The status an error of one code carries: a fixed JSTP status, `null` when the
 * error is never an answer (config, close reasons), or `'answered'`: whatever the
 * peer answered.
 */
export type CatalogueStatus = StatusCode | null | 'answered';

export interface CatalogueEntry {
  readonly code: `PASARELA_${string}`;
  readonly status: CatalogueStatus;
  /** The message, `%s` replaced by the factory's arguments in order (default `'%s'`). */
  readonly template?: string;
}

/** The catalogue: key (as in `ErrorCode.Key`), code, status, message template. */
const CATALOGUE = {
  // ---- the protocol ----
  /** A dispatch that breaks the protocol, or that cannot be encoded. */
  BadDispatch: { code: 'PASARELA_BAD_DISPATCH', status: Status.BadDispatch },
  /** An endpoint pattern that cannot be compiled. */
  BadPattern: { code: 'PASARELA_BAD_PATTERN', status: Status.BadDispatch, template: 'bad endpoint pattern: %s' },
  /** A request was answered with a status other than 200 (the status is the answer's). */
  AnswerStatus: { code: 'PASARELA_ANSWER_STATUS', status: 'answered' },
  EngineClosed: { code: 'PASARELA_ENGINE_CLOSED', status: null, template: 'engine closed' },
  /** A pipeline stage dropped a local request (its name and reason are in the message). */
  Dropped: { code: 'PASARELA_DROPPED', status: null, template: 'dropped by stage %s: %s' },
  /** Forwarding refused: disabled, the hop not allowed, or a client asked to reach past its server. */
  Forwarding: { code: 'PASARELA_FORWARDING', status: Status.GatewayDisabled },
  /** A hop names a transport label nobody can dial. */
  UnknownTransport: { code: 'PASARELA_UNKNOWN_TRANSPORT', status: Status.UnrecognizedTransport, template: 'unknown transport label %s' },

  // ---- connections ----
  /**
   * The instance is saturated and drains: a new request for a replicated service is
   * refused before it is processed (so retrying it elsewhere is safe); the answer's
   * body lists the members to use instead in `redirect`.
   */
  Draining: { code: 'PASARELA_DRAINING', status: Status.InvalidHost },
  /** An outbound connection could not be made, or is not up now. */
  Unreachable: { code: 'PASARELA_UNREACHABLE', status: Status.UnreachableHost, template: 'cannot connect to %s: %s' },
  /** The connection (or the pool or client it belonged to) is closed. */
  ChannelClosed: { code: 'PASARELA_CHANNEL_CLOSED', status: Status.UnreachableHost },
  ChannelOverflow: { code: 'PASARELA_CHANNEL_OVERFLOW', status: null },
  /** A peer stopped answering heartbeats (WebSocket ping/pong, the TCP idle probe). */
  PeerTimeout: { code: 'PASARELA_PEER_TIMEOUT', status: null },
  FrameTooLarge: { code: 'PASARELA_FRAME_TOO_LARGE', status: null },
  /**
   * Over one of the gateway's limits (docs/limits.md): a dispatch is answered 400 with
   * it; input that cannot be answered closes its connection with it as the reason.
   */
  LimitExceeded: { code: 'PASARELA_LIMIT', status: Status.BadDispatch },
  InvalidJson: { code: 'PASARELA_INVALID_JSON', status: null },
  DecodeError: { code: 'PASARELA_DECODE_ERROR', status: null },

  // ---- security (docs/spec/security.md) ----
  /** A signature is required here and the dispatch has none. */
  Unsigned: { code: 'PASARELA_UNSIGNED', status: Status.Unauthorized },
  /** The `sig` header is malformed, or the signature does not verify (a tampered dispatch). */
  BadSignature: { code: 'PASARELA_BAD_SIGNATURE', status: Status.Unauthorized },
  /** The signer's sequence number was seen before, or is too old: a replay. */
  Replay: { code: 'PASARELA_REPLAY', status: Status.Unauthorized },
  /** A signer's first dispatch is more than 5 minutes off the verifier's clock. */
  Clock: { code: 'PASARELA_CLOCK', status: Status.Unauthorized },
  /** Signed, but no grant was presented for the signer (and unsigned dispatches may not do it). */
  NoGrant: { code: 'PASARELA_NO_GRANT', status: Status.Forbidden },
  /** Signed and granted, but the grant does not cover this dispatch. */
  NotGranted: { code: 'PASARELA_NOT_GRANTED', status: Status.Forbidden },
  /** The signer's grant is not valid yet, or not any more. */
  GrantExpired: { code: 'PASARELA_GRANT_EXPIRED', status: Status.Forbidden },
  /** A presented grant chain is malformed, forged, not rooted at an owner, or widens its parent. */
  BadGrant: { code: 'PASARELA_BAD_GRANT', status: Status.Forbidden },
  /** An identity or grant file cannot be used (missing, unreadable, readable by others, malformed). */
  Identity: { code: 'PASARELA_IDENTITY', status: null },
  /** A sealed dispatch is malformed or does not open: tampered on the way, or sealed with another key. */
  BadSeal: { code: 'PASARELA_BAD_SEAL', status: Status.Unauthorized },
  /** A sealed dispatch that ends here is sealed to another identity (or this engine has none). */
  NotRecipient: { code: 'PASARELA_NOT_RECIPIENT', status: Status.Unauthorized },
  /** A presented identity document is malformed or not signed by its identity. */
  BadIdentityDocument: { code: 'PASARELA_BAD_IDENTITY_DOCUMENT', status: Status.Unauthorized },
  /** An engine presents another key than the one pinned for it in the known-engines file. */
  KnownEngine: { code: 'PASARELA_KNOWN_ENGINE', status: null },

  // ---- setting up ----
  /** A config file, a driver option or an API argument is wrong. */
  Config: { code: 'PASARELA_CONFIG', status: null },
  /** A port to listen on is taken by another program. */
  AddressInUse: { code: 'PASARELA_ADDRESS_IN_USE', status: null },
  /** A device profile failed validation (the message names the profile and the field). */
  Profile: { code: 'PASARELA_PROFILE', status: null },
  /** A driver failed (its start, or its code later); logged with its name while the rest of the gateway runs. */
  DriverFailed: { code: 'PASARELA_DRIVER_FAILED', status: null },

  // ---- devices ----
  /** The device sent data its converter cannot read. */
  Convert: { code: 'PASARELA_CONVERT', status: Status.UnreachableHost },
  /** No such device, property, action or event. */
  DeviceNotFound: { code: 'PASARELA_DEVICE_NOT_FOUND', status: Status.NotFound },
  /** No gateway of that name in the fleet (status 404). */
  UnknownGateway: { code: 'PASARELA_UNKNOWN_GATEWAY', status: Status.NotFound },
  /** The device is offline or its link (broker, port, radio) is down. */
  DeviceOffline: { code: 'PASARELA_DEVICE_OFFLINE', status: Status.UnreachableHost },
  /** A PUT on a property that is not writable. */
  ReadOnly: { code: 'PASARELA_READ_ONLY', status: Status.Forbidden },
  /** A value or action input that does not fit its schema, or that the device cannot take. */
  BadValue: { code: 'PASARELA_BAD_VALUE', status: Status.BadDispatch },
  /** The device did not answer before the deadline. */
  DeviceTimeout: { code: 'PASARELA_DEVICE_TIMEOUT', status: Status.Timeout },
  /**
   * Not supported here: by the device, the driver, or this runtime (no WebSocket, no
   * CBOR codec). Retrying cannot help, so the client stops when a dial fails with it.
   */
  NotSupported: { code: 'PASARELA_NOT_SUPPORTED', status: Status.NotImplemented },

  // ---- the uplinks' durable store ----
  /** The store cannot be opened, written or synced: fatal, the gateway exits so that its supervisor restarts it. */
  Store: { code: 'PASARELA_STORE', status: null },
  /** The store's bounds refused a dispatch (refuse-new, or one larger than the whole buffer). */
  StoreFull: { code: 'PASARELA_STORE_FULL', status: Status.InternalError },
} as const satisfies Record<string, CatalogueEntry>;

type Catalogue = typeof CATALOGUE;
type Key = keyof Catalogue;

/** Every code by key: `ErrorCode.DeviceNotFound === 'PASARELA_DEVICE_NOT_FOUND'`. */
export const ErrorCode = Object.fromEntries(Object.entries(CATALOGUE).map(([key, entry]) => [key, entry.code])) as {
  readonly [K in Key]: Catalogue[K]['code'];
};

export type ErrorCodeValue = Catalogue[Key]['code'];
/** The codes whose errors carry the answered status rather than a fixed one. */
type AnsweredCode = { [K in Key]: Catalogue[K]['status'] extends 'answered' ? Catalogue[K]['code'] : never }[Key];
/** The codes whose status the catalogue fixes (or that never carry one). */
export type FixedErrorCode = Exclude<ErrorCodeValue, AnsweredCode>;

/** Every code with its status, in catalogue order (docs and tests read it). */
export const errorCatalogue: readonly Readonly<{ key: string; code: ErrorCodeValue; status: CatalogueStatus }>[] = Object.entries(CATALOGUE).map(
  ([key, entry]) => ({ key, code: entry.code, status: entry.status }),
);

const statusOfCode = new Map<string, CatalogueStatus>(errorCatalogue.map((entry) => [entry.code, entry.status]));

/** Marks every PasarelaError, whichever copy of the package made it. */
const BRAND = Symbol.for('pasarela.PasarelaError');

/**
 * An error with a stable code and, where the catalogue gives it one, a JSTP status.
 * `instanceof PasarelaError` also holds for errors made by another copy of the
 * package (a driver developed in a folder of its own, with its own node_modules), so
 * a driver's `errors.readOnly(...)` still picks its answer.
 */
export class PasarelaError extends Error {
  readonly code: ErrorCodeValue;
  readonly status: number | undefined;

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses (ConfigError, ProfileError) keep the ordinary prototype check.
    if (this !== PasarelaError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** The status comes from the catalogue; only a code whose status is "as answered" takes one. */
  constructor(code: AnsweredCode, message: string, options: { status: number; cause?: unknown });
  constructor(code: FixedErrorCode, message: string, options?: { cause?: unknown });
  constructor(code: ErrorCodeValue, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PasarelaError';
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    const status = statusOfCode.get(code);
    this.status = status === 'answered' ? options?.status : (status ?? undefined);
  }
}

// ---- factories --------------------------------------------------------------------

type Argument = string | number;
type Placeholders<T extends string> = T extends `${string}%s${infer Rest}` ? [Argument, ...Placeholders<Rest>] : [];
type TemplateOf<E> = E extends { template: infer T extends string } ? T : '%s';
type WithCause<A extends unknown[]> = A | [...A, { cause?: unknown }];
type FactoryArguments<E> = E extends { status: 'answered' }
  ? WithCause<[status: number, ...Placeholders<TemplateOf<E>>]>
  : WithCause<Placeholders<TemplateOf<E>>>;

export type ErrorFactory<E> = ((...args: FactoryArguments<E>) => PasarelaError) & { readonly code: ErrorCodeValue; readonly status: CatalogueStatus };

function fill(template: string, args: readonly unknown[]): string {
  let next = 0;
  return template.replace(/%s/g, () => String(args[next++]));
}

function createError(entry: CatalogueEntry): ErrorFactory<CatalogueEntry> {
  const template = entry.template ?? '%s';
  const factory = (...args: unknown[]): PasarelaError => {
    const last = args.at(-1);
    const options = typeof last === 'object' && last !== null ? (args.pop() as { cause?: unknown }) : {};
    const status = entry.status === 'answered' ? (args.shift() as number) : undefined;
    const code = entry.code as ErrorCodeValue;
    const message = fill(template, args);
    return status === undefined ? new PasarelaError(code as FixedErrorCode, message, options) : new PasarelaError(code as AnsweredCode, message, { ...options, status });
  };
  return Object.assign(factory, { code: entry.code as ErrorCodeValue, status: entry.status }) as ErrorFactory<CatalogueEntry>;
}

/**
 * One factory per code, named after its key: `errors.unreachable('10.0.0.2:3000',
 * 'timed out', { cause })`, `errors.answerStatus(403, 'answered 403')`.
 */
export const errors = Object.fromEntries(
  Object.entries(CATALOGUE).map(([key, entry]) => [key[0]!.toLowerCase() + key.slice(1), createError(entry)]),
) as unknown as { readonly [K in Key as Uncapitalize<K>]: ErrorFactory<Catalogue[K]> };

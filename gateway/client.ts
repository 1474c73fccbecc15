/**
 * The JSTP client, for Node and browsers: one connection to a gateway, with the
 * engine's local API on top (bind, get/post/put/patch/delete, emit).
 *
 * The client owns a local Engine. Handlers are bound in it; the connection is one
 * of its channels, so dispatches the server delivers trigger them and their answers
 * go back on their own. Requests travel as forwarded dispatches: their first hop is
 * a placeholder that the client's forwarder turns into "write to the connection",
 * so the engine keeps doing transactions, answers, 101 and timeouts.
 *
 * Browser path: nothing here imports Node modules. Node-only dialing (TCP, the `ws`
 * package) lives in client-node.ts and is loaded with a dynamic import when needed.
 */
import type { Channel } from './jstp/channel.js';
import { randomUUID } from './jstp/uuid.js';
import type { Dispatch, Hop, Mode, RegularMethod, ResourceElement } from './jstp/dispatch.js';
import { Engine, type EndpointInput, type Handler, type Reply, type RequestOptions } from './jstp/engine.js';
import { ErrorCode, PasarelaError, Status } from './jstp/errors.js';
import type { Logger } from './jstp/logger.js';
import { dialWebSocket, type WebSocketConstructor } from './client-websocket.js';

export type { Answer, EndpointInput, Handler, Incoming, Reply } from './jstp/engine.js';
export { AnswerError } from './jstp/engine.js';
export { ErrorCode, PasarelaError, Status } from './jstp/errors.js';
export type { WebSocketConstructor } from './client-websocket.js';

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type ClientEncoding = 'json' | 'cbor';

export interface BackoffOptions {
  /** Delay before the first retry (default 250 ms). */
  initialDelayMs?: number;
  /** Largest delay between retries (default 10 s). */
  maxDelayMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Fraction of each delay taken off at random, 0..1 (default 0.2), so clients spread out. */
  jitter?: number;
}

export interface ClientOptions {
  /** Wire encoding (default 'json'); 'cbor' sends compact CBOR dispatches (a CBOR sequence over tcp://, binary messages over ws://). */
  encoding?: ClientEncoding;
  /** Reconnect backoff; false: never reconnect (a drop closes the client). */
  reconnect?: BackoffOptions | false;
  /** pino logger; default silent. */
  logger?: Logger;
  /** How long a request waits for each answer (default 10 s). */
  answerTimeoutMs?: number;
  /** How long one connection attempt may take (default 5 s). */
  connectTimeoutMs?: number;
  /** Validation mode of the local engine (default 'strict'). */
  mode?: Mode;
  /** WebSocket implementation for ws:// and wss:// (default: globalThis.WebSocket in browsers, `ws` in Node). */
  WebSocket?: WebSocketConstructor;
  /** Replaces the built-in dialers (custom transports, tests). */
  dialer?: ClientDialer;
}

/** Per request: extra hops after the server (it forwards them), referer, extra headers. */
export type ClientRequestOptions = RequestOptions;

export interface StateChange {
  state: ClientState;
  previous: ClientState;
  /** Why the connection was lost or could not be made, when known. */
  error?: Error;
}

export interface ClientEvents {
  state: (change: StateChange) => void;
}

// ---- dialing ----------------------------------------------------------------------

/** An open connection to the server: a channel of the client's engine. */
export interface ClientLink extends Channel {
  /** Closes the connection; resolves once it is closed. */
  close(): void | Promise<void>;
}

/** What a link reports to the client. */
export interface LinkHandlers {
  /** A parsed dispatch (not yet validated) arrived. */
  receive(raw: unknown): void;
  /** The connection closed (after the dial resolved); called once. */
  closed(error?: Error): void;
}

/** The compact CBOR dispatch codec (gateway/jstp/codec/cbor.ts), loaded only when asked for. */
export interface DispatchCodec {
  encodeDispatch(dispatch: Dispatch): Uint8Array;
  decodeDispatch(bytes: Uint8Array): unknown;
}

export interface DialRequest {
  url: URL;
  encoding: ClientEncoding;
  /** Set when `encoding` is 'cbor'. */
  cbor?: DispatchCodec;
  connectTimeoutMs: number;
  logger: Logger;
  WebSocket?: WebSocketConstructor;
}

/** Opens one connection; rejects (ideally with a PasarelaError, status 502) when it can't. */
export type ClientDialer = (request: DialRequest, handlers: LinkHandlers) => Promise<ClientLink>;

// ---- the client -----------------------------------------------------------------

/** The placeholder first hop of every request: the forwarder sends it to the server. */
const SERVER_HOP: Hop = ['server', 0, 'pasarela-client'];

/** How long a connection must have lasted for its loss to restart the backoff from the first delay. */
const STABLE_CONNECTION_MS = 1_000;

const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.2 };

interface RemoteSubscription {
  readonly endpoint: EndpointInput;
  readonly unbinders: Map<Handler, () => void>;
}

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

const SILENT: Logger = {
  // Only what the client calls; the engine gets its own silent pino when none is given.
  debug() {},
  info() {},
  warn() {},
  error() {},
} as unknown as Logger;

function isNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof process?.versions?.node === 'string';
}

/** Dials with the built-in transports: WebSocket in browsers, `ws` / TCP in Node. */
async function defaultDialer(request: DialRequest, handlers: LinkHandlers): Promise<ClientLink> {
  const scheme = request.url.protocol;
  if ((scheme === 'ws:' || scheme === 'wss:') && (request.WebSocket || !isNode())) {
    const WebSocketImpl = request.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new PasarelaError(ErrorCode.Config, 'no WebSocket implementation available');
    return dialWebSocket(WebSocketImpl, request, handlers);
  }
  if (!isNode()) throw new PasarelaError(ErrorCode.Config, `${scheme}// needs Node`);
  // A computed specifier keeps browser bundlers from pulling Node modules in.
  const nodeModule = './client-node.js';
  const { dialNode } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('./client-node.js');
  return dialNode(request, handlers);
}

export class Client {
  readonly url: URL;
  private readonly engine: Engine;
  private readonly logger: Logger;
  private readonly backoff: Required<BackoffOptions> | false;
  private readonly encoding: ClientEncoding;
  private readonly connectTimeoutMs: number;
  private readonly dialer: ClientDialer;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly remote = new Map<string, RemoteSubscription>();
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = { state: new Set() };
  private readyWaiters: Deferred[] = [];
  private current: ClientState = 'connecting';
  private link: ClientLink | undefined;
  private attempt = 0;
  private codec: DispatchCodec | undefined;
  private openedAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closing: Promise<void> | undefined;
  private lastError: Error | undefined;

  constructor(url: string | URL, options: ClientOptions = {}) {
    this.url = typeof url === 'string' ? new URL(url) : url;
    const scheme = this.url.protocol;
    if (scheme !== 'tcp:' && scheme !== 'ws:' && scheme !== 'wss:') {
      throw new PasarelaError(ErrorCode.Config, `unsupported URL scheme ${scheme} (tcp:, ws: or wss:)`);
    }
    if (scheme === 'tcp:' && (!this.url.hostname || !this.url.port)) {
      throw new PasarelaError(ErrorCode.Config, 'a tcp:// URL needs a host and a port');
    }
    this.logger = options.logger ?? SILENT;
    this.encoding = options.encoding ?? 'json';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.backoff = options.reconnect === false ? false : { ...DEFAULT_BACKOFF, ...options.reconnect };
    this.dialer = options.dialer ?? defaultDialer;
    this.WebSocketImpl = options.WebSocket;
    const answerTimeoutMs = options.answerTimeoutMs ?? 10_000;
    this.engine = new Engine({
      mode: options.mode ?? 'strict',
      answerTimeoutMs,
      ...(options.logger ? { logger: options.logger } : {}),
      forwarder: (dispatch, hop) => this.forward(dispatch, hop),
    });
    void this.dial();
  }

  get state(): ClientState {
    return this.current;
  }

  /** Resolves once the client is connected (at once if it is); rejects if it closes first. */
  ready(): Promise<void> {
    if (this.current === 'open') return Promise.resolve();
    if (this.current === 'closed') return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): void {
    this.listeners[event].delete(listener);
  }

  /**
   * Subscribes `handler` to dispatches at `endpoint` on the server: binds it locally
   * and sends BIND (again after each reconnection). Returns the function that
   * unbinds it; RELEASE is sent when the last handler of that endpoint goes.
   */
  bind(endpoint: EndpointInput, handler: Handler): () => void {
    // Validates and normalizes the pattern (throws on a bad one) before anything changes.
    const bindDispatch = Engine.subscriptionDispatch('BIND', endpoint, this.engine.mode);
    const normalized: EndpointInput = { method: bindDispatch.endpoint!.method, resource: bindDispatch.endpoint!.resource };
    const key = `${normalized.method} ${JSON.stringify(normalized.resource)}`;
    const existing = this.remote.get(key);
    if (!existing?.unbinders.has(handler)) {
      // Throws once the client is closed, before anything is recorded.
      const unbindLocal = this.engine.bind(normalized, handler);
      if (existing) existing.unbinders.set(handler, unbindLocal);
      else {
        this.remote.set(key, { endpoint: normalized, unbinders: new Map([[handler, unbindLocal]]) });
        this.sendSubscription('BIND', normalized);
      }
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const entry = this.remote.get(key);
      const unbind = entry?.unbinders.get(handler);
      if (!entry || !unbind) return;
      entry.unbinders.delete(handler);
      unbind();
      if (entry.unbinders.size === 0) {
        this.remote.delete(key);
        this.sendSubscription('RELEASE', entry.endpoint);
      }
    };
  }

  get(resource: ResourceElement[], body?: unknown, options?: ClientRequestOptions): Reply {
    return this.request('GET', resource, body, options);
  }
  post(resource: ResourceElement[], body?: unknown, options?: ClientRequestOptions): Reply {
    return this.request('POST', resource, body, options);
  }
  put(resource: ResourceElement[], body?: unknown, options?: ClientRequestOptions): Reply {
    return this.request('PUT', resource, body, options);
  }
  patch(resource: ResourceElement[], body?: unknown, options?: ClientRequestOptions): Reply {
    return this.request('PATCH', resource, body, options);
  }
  delete(resource: ResourceElement[], body?: unknown, options?: ClientRequestOptions): Reply {
    return this.request('DELETE', resource, body, options);
  }

  /**
   * Sends a regular dispatch to the server and collects its answers. While the
   * client is not connected it answers 502 at once (the reply rejects).
   */
  request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: ClientRequestOptions = {}): Reply {
    return this.engine.request(method, resource, body, this.viaServer(options));
  }

  /** Fire and forget; dropped (and logged) while disconnected. */
  emit(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: ClientRequestOptions = {}): void {
    this.engine.emit(method, resource, body, this.viaServer(options));
  }

  /** Closes the connection for good; pending replies fail. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const link = this.link;
    this.link = undefined;
    this.setState('closed');
    this.closing = (async () => {
      if (link) {
        this.engine.detach(link);
        try {
          await link.close();
        } catch (error) {
          this.logger.debug({ err: error }, 'closing the connection failed');
        }
      }
      this.engine.close();
    })();
    return this.closing;
  }

  // ---- connection lifecycle ---------------------------------------------------------

  private async dial(): Promise<void> {
    this.retryTimer = undefined;
    if (this.current === 'closed') return;
    let link: ClientLink | undefined;
    const handlers: LinkHandlers = {
      receive: (raw) => {
        if (link !== undefined && link === this.link) this.receive(raw, link);
      },
      closed: (error) => {
        if (link !== undefined) this.lost(link, error);
      },
    };
    try {
      link = await this.dialer(
        {
          url: this.url,
          encoding: this.encoding,
          ...(this.encoding === 'cbor' ? { cbor: await this.loadCodec() } : {}),
          connectTimeoutMs: this.connectTimeoutMs,
          logger: this.logger,
          ...(this.WebSocketImpl ? { WebSocket: this.WebSocketImpl } : {}),
        },
        handlers,
      );
    } catch (error) {
      this.lastError = asError(error);
      if (error instanceof PasarelaError && error.code === ErrorCode.Config) {
        // Retrying cannot fix a setting (no WebSocket, an encoding not available).
        this.logger.error({ url: this.url.href, err: error }, 'cannot connect');
        this.setState('closed');
        this.engine.close();
        return;
      }
      this.logger.debug({ url: this.url.href, err: error }, 'connection attempt failed');
      this.retry();
      return;
    }
    // close() may have been called while dialing.
    if (this.state === 'closed') {
      void Promise.resolve(link.close()).catch(() => undefined);
      return;
    }
    this.link = link;
    this.openedAt = Date.now();
    this.lastError = undefined;
    this.logger.info({ url: this.url.href, channel: link.id }, 'connected');
    // Auto rebinding: the server released everything of the previous connection.
    for (const subscription of this.remote.values()) this.sendSubscription('BIND', subscription.endpoint);
    this.setState('open');
  }

  private async loadCodec(): Promise<DispatchCodec> {
    // Loaded on demand: a JSON client never runs it, and a bundler that splits code
    // puts it in a chunk of its own. The literal specifier lets bundlers see it.
    try {
      this.codec ??= await import('./jstp/codec/cbor.js');
    } catch (error) {
      throw new PasarelaError(ErrorCode.Config, 'the CBOR codec cannot be loaded', { cause: error });
    }
    return this.codec;
  }

  private lost(link: ClientLink, error: Error | undefined): void {
    if (link !== this.link) return;
    this.link = undefined;
    // A server that accepts and drops at once should not be hammered: only a
    // connection that lasted resets the backoff.
    if (Date.now() - this.openedAt >= STABLE_CONNECTION_MS) this.attempt = 0;
    this.lastError = error ?? new PasarelaError(ErrorCode.ChannelClosed, 'connection closed');
    this.logger.info({ url: this.url.href, channel: link.id, err: error }, 'connection lost');
    this.engine.detach(link);
    this.retry();
  }

  private retry(): void {
    if (this.current === 'closed') return;
    if (this.backoff === false) {
      this.setState('closed');
      this.engine.close();
      return;
    }
    if (this.current === 'open') this.setState('reconnecting');
    const { initialDelayMs, maxDelayMs, factor, jitter } = this.backoff;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** this.attempt);
    const delay = Math.max(0, Math.round(base * (1 - jitter * Math.random())));
    this.attempt++;
    this.logger.debug({ url: this.url.href, delay, attempt: this.attempt }, 'reconnecting');
    this.retryTimer = setTimeout(() => void this.dial(), delay);
  }

  private setState(state: ClientState): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    const change: StateChange = { state, previous };
    if (this.lastError && state !== 'open') change.error = this.lastError;
    if (state === 'open' || state === 'closed') {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const waiter of waiters) {
        if (state === 'open') waiter.resolve();
        else waiter.reject(this.closedError());
      }
    }
    for (const listener of [...this.listeners.state]) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error({ err: error }, 'state listener failed');
      }
    }
  }

  private closedError(): PasarelaError {
    return new PasarelaError(ErrorCode.ChannelClosed, 'client closed', {
      status: Status.UnreachableHost,
      ...(this.lastError ? { cause: this.lastError } : {}),
    });
  }

  // ---- traffic ------------------------------------------------------------------

  private receive(raw: unknown, link: ClientLink): void {
    if (isSubscriptionAnswer(raw)) {
      this.subscriptionAnswer(raw);
      return;
    }
    this.engine.receive(raw, link);
  }

  private viaServer(options: ClientRequestOptions): RequestOptions {
    return { ...options, host: [SERVER_HOP, ...(options.host ?? [])] };
  }

  /** The engine's Forwarder: every request's first hop is the server. */
  private forward(dispatch: Dispatch, hop: Hop): Promise<Channel> {
    if (hop !== SERVER_HOP) {
      return Promise.reject(new PasarelaError(ErrorCode.Forwarding, 'a client only forwards to its server', { status: Status.GatewayDisabled }));
    }
    const link = this.link;
    if (!link || this.current !== 'open') {
      return Promise.reject(new PasarelaError(ErrorCode.Forwarding, `not connected to ${this.url.href} (${this.current})`, { status: Status.UnreachableHost }));
    }
    link.send(dispatch);
    // The engine answers 502 for what still waits on this link when it is detached.
    return Promise.resolve(link);
  }

  private sendSubscription(method: 'BIND' | 'RELEASE', endpoint: EndpointInput): void {
    const link = this.link;
    if (!link || this.current === 'closed') return;
    // A transaction id of our own: the server's answers tell whether it took it.
    const transactionId = SUBSCRIPTION_PREFIX + randomUUID();
    link.send(Engine.subscriptionDispatch(method, endpoint, this.engine.mode, [transactionId]));
  }

  private subscriptionAnswer(raw: Record<string, unknown>): void {
    const [status] = raw.resource as [unknown];
    if (status === Status.Ok || status === Status.NoMoreAnswers) return;
    this.logger.warn({ url: this.url.href, status, body: raw.body }, 'the server refused a BIND or RELEASE');
  }
}

/** Marks the transaction ids of the client's own BIND/RELEASE, so their answers are recognized. */
const SUBSCRIPTION_PREFIX = 'sub-';

function isSubscriptionAnswer(raw: unknown): raw is Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null) return false;
  const headers = raw as Record<string, unknown>;
  if (typeof headers.method !== 'string' || headers.method.toUpperCase() !== 'ANSWER') return false;
  const resource = headers.resource;
  return Array.isArray(resource) && typeof resource[1] === 'string' && resource[1].startsWith(SUBSCRIPTION_PREFIX);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Opens a client; it connects (and reconnects) in the background: `await client.ready()`. */
export function connect(url: string | URL, options: ClientOptions = {}): Client {
  return new Client(url, options);
}

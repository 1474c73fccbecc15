/**
 * The JSTP client, for Node and browsers: one connection to a gateway, with the
 * engine's local API on top (bind, get/post/put/patch/delete, emit).
 *
 * The client owns a local Engine. Handlers are bound in it; the connection is one
 * of its channels, so dispatches the server delivers trigger them and their answers
 * go back on their own. Requests, emits and BINDs go to the server through the
 * engine's peer for that channel (`engine.peer(link)`), so the engine keeps doing
 * transactions, answers, 101 and timeouts, and its pipeline sees every dispatch.
 *
 * Browser path: nothing here imports Node modules. Node-only dialing (TCP, the `ws`
 * package) lives in client-node.ts and is loaded with a dynamic import when needed.
 */
import { Backoff, type BackoffOptions } from './jstp/backoff.js';
import type { Channel } from './jstp/channel.js';
import type { DispatchCodec } from './jstp/codec/codec.js';
import type { Mode, RegularMethod, ResourceElement } from './jstp/dispatch.js';
import { Engine, type Answer, type EndpointInput, type Handler, type Peer, type Reply, type RequestOptions, type Stage } from './jstp/engine.js';
import { ErrorCode, errors, PasarelaError, Status } from './jstp/errors.js';
import { silentLogger, type Logger } from './jstp/logger.js';
import { BalancedClient, type BalancedOptions } from './client-balancer.js';
import { dialWebSocket, type WebSocketConstructor } from './client-websocket.js';
import { RequestMethods } from './jstp/request-methods.js';

export type { Answer, EndpointInput, Handler, Incoming, Reply, Stage, Verdict } from './jstp/engine.js';
export { AnswerError } from './jstp/engine.js';
export { ErrorCode, PasarelaError, Status } from './jstp/errors.js';
export type { WebSocketConstructor } from './client-websocket.js';
export { BalancedClient } from './client-balancer.js';
export type { BalancedMember, BalancedOptions, BalancerEvents, BalancingOptions, MemberState, PolicyName } from './client-balancer.js';
export type { DispatchCodec } from './jstp/codec/codec.js';

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type ClientEncoding = 'json' | 'cbor';

export type { BackoffOptions } from './jstp/backoff.js';

export interface ClientOptions {
  /** Wire encoding (default 'json'); 'cbor' sends compact CBOR dispatches (a CBOR sequence over tcp://, binary messages over ws://). */
  encoding?: ClientEncoding;
  /** Reconnect backoff (default 250 ms doubling to 10 s); false: never reconnect (a drop closes the client). */
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
  /** For tls:// and wss:// in Node: trust a CA (`ca`, PEM) or pin the server's key (`pin`, sha256/BASE64). */
  tls?: ClientTlsTrust;
}

/** What a Node client trusts over TLS; with neither, the system's CAs. */
export interface ClientTlsTrust {
  readonly ca?: string;
  readonly pin?: string;
}

/** Per request: extra hops after the server (it forwards them), referer, extra headers. */
export type ClientRequestOptions = RequestOptions;

export interface StateChange {
  state: ClientState;
  previous: ClientState;
  /** Why the connection was lost or could not be made, when known. */
  error?: Error;
}

/** A BIND or RELEASE the server answered without a 2xx (a 403 from a gateway with security, say). */
export interface SubscriptionRefusal {
  method: 'BIND' | 'RELEASE';
  endpoint: EndpointInput;
  answers: Answer[];
}

export interface ClientEvents {
  state: (change: StateChange) => void;
  refused: (refusal: SubscriptionRefusal) => void;
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
  /** A dispatch arrived that the codec could not restore (an unknown resource alias): refused, answered 400 if it has a transaction. */
  refuse(raw: Record<string, unknown>, reason: string): void;
  /** The connection closed (after the dial resolved); called once. */
  closed(error?: Error): void;
}

export interface DialRequest {
  url: URL;
  encoding: ClientEncoding;
  /** Set when `encoding` is 'cbor': the dialer opens a link codec per connection. */
  cbor?: DispatchCodec;
  connectTimeoutMs: number;
  logger: Logger;
  WebSocket?: WebSocketConstructor;
  tls?: ClientTlsTrust;
}

/**
 * Opens one connection; rejects when it can't, ideally with PASARELA_UNREACHABLE (502).
 * PASARELA_NOT_SUPPORTED means retrying cannot help: the client closes instead.
 */
export type ClientDialer = (request: DialRequest, handlers: LinkHandlers) => Promise<ClientLink>;

// ---- the client -----------------------------------------------------------------


interface RemoteSubscription {
  readonly endpoint: EndpointInput;
  readonly unbinders: Map<Handler, () => void>;
}

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

function isNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof process?.versions?.node === 'string';
}

/** Dials with the built-in transports: WebSocket in browsers, `ws` / TCP in Node. */
async function defaultDialer(request: DialRequest, handlers: LinkHandlers): Promise<ClientLink> {
  const scheme = request.url.protocol;
  if ((scheme === 'ws:' || scheme === 'wss:') && (request.WebSocket || !isNode())) {
    const WebSocketImpl = request.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw errors.notSupported('no WebSocket implementation available');
    return dialWebSocket(WebSocketImpl, request, handlers);
  }
  if (!isNode()) throw errors.notSupported(`${scheme}// needs Node`);
  // A computed specifier keeps browser bundlers from pulling Node modules in.
  const nodeModule = './client-node.js';
  const { dialNode } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('./client-node.js');
  return dialNode(request, handlers);
}

export class Client extends RequestMethods {
  readonly url: URL;
  private readonly engine: Engine;
  private readonly logger: Logger;
  private readonly backoff: Backoff | false;
  private readonly encoding: ClientEncoding;
  private readonly connectTimeoutMs: number;
  private readonly dialer: ClientDialer;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly tls: ClientTlsTrust | undefined;
  private readonly remote = new Map<string, RemoteSubscription>();
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = { state: new Set(), refused: new Set() };
  private readyWaiters: Deferred[] = [];
  private current: ClientState = 'connecting';
  private link: ClientLink | undefined;
  private codec: DispatchCodec | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closing: Promise<void> | undefined;
  private lastError: Error | undefined;

  constructor(url: string | URL, options: ClientOptions = {}) {
    super();
    this.url = typeof url === 'string' ? new URL(url) : url;
    const scheme = this.url.protocol;
    if (scheme !== 'tcp:' && scheme !== 'tls:' && scheme !== 'ws:' && scheme !== 'wss:') {
      throw errors.config(`unsupported URL scheme ${scheme} (tcp:, tls:, ws: or wss:)`);
    }
    if ((scheme === 'tcp:' || scheme === 'tls:') && (!this.url.hostname || !this.url.port)) {
      throw errors.config(`a ${scheme}// URL needs a host and a port`);
    }
    this.logger = options.logger ?? silentLogger();
    this.encoding = options.encoding ?? 'json';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.backoff = options.reconnect === false ? false : new Backoff(options.reconnect, { where: 'reconnect' });
    this.dialer = options.dialer ?? defaultDialer;
    this.WebSocketImpl = options.WebSocket;
    this.tls = options.tls;
    const answerTimeoutMs = options.answerTimeoutMs ?? 10_000;
    this.engine = new Engine({ mode: options.mode ?? 'strict', answerTimeoutMs, logger: this.logger });
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
   * Adds a pipeline stage to the client's engine: its outbound side sees every
   * request, emit, BIND and answer the client sends, its inbound side everything the
   * server sends. Returns the function that removes it.
   */
  use(stage: Stage): () => void {
    return this.engine.use(stage);
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

  /**
   * Sends a regular dispatch to the server and collects its answers. While the
   * client is not connected it answers 502 at once (the reply rejects).
   */
  request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: ClientRequestOptions = {}): Reply {
    return this.server().request(method, resource, body, options);
  }

  /** Fire and forget; dropped (and logged) while disconnected. */
  emit(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: ClientRequestOptions = {}): void {
    if (!this.link) this.logger.debug({ url: this.url.href, method, resource }, 'not connected: emit dropped');
    this.server().emit(method, resource, body, options);
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
      refuse: (raw, reason) => {
        if (link !== undefined && link === this.link) this.engine.refuse(raw, link, reason);
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
          ...(this.tls ? { tls: this.tls } : {}),
        },
        handlers,
      );
    } catch (error) {
      this.lastError = asError(error);
      if (error instanceof PasarelaError && error.code === ErrorCode.NotSupported) {
        // Retrying cannot fix what this runtime lacks (no WebSocket, no CBOR codec).
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
    if (this.backoff) this.backoff.succeeded();
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
      this.codec ??= await import('./jstp/codec/cbor-link.js');
    } catch (error) {
      throw errors.notSupported('the CBOR codec cannot be loaded', { cause: error });
    }
    return this.codec;
  }

  private lost(link: ClientLink, error: Error | undefined): void {
    if (link !== this.link) return;
    this.link = undefined;
    this.lastError = error ?? errors.channelClosed('connection closed');
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
    // A server that accepts and drops at once is not hammered: only a connection that lasted starts the delays over.
    const delay = this.backoff.next();
    this.logger.debug({ url: this.url.href, delay, attempt: this.backoff.attempts }, 'reconnecting');
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
    return errors.channelClosed('client closed', this.lastError ? { cause: this.lastError } : {});
  }

  // ---- traffic ------------------------------------------------------------------

  private receive(raw: unknown, link: ClientLink): void {
    this.engine.receive(raw, link);
  }

  /**
   * The server as the engine's peer. While not connected, a stand-in channel that is
   * closed: a request then answers 502 at once, an emit goes nowhere.
   */
  private server(): Peer {
    const link = this.current === 'open' ? this.link : undefined;
    return this.engine.peer(link ?? { id: `${this.url.href} (${this.current})`, isClosed: true, send() {} });
  }

  private sendSubscription(method: 'BIND' | 'RELEASE', endpoint: EndpointInput): void {
    const link = this.link;
    if (!link || this.current === 'closed') return;
    const peer = this.engine.peer(link);
    const reply = method === 'BIND' ? peer.bind(endpoint) : peer.release(endpoint);
    reply.all().then(
      (answers) => {
        if (answers.some((answer) => answer.status >= 200 && answer.status < 300)) return;
        const fields = { url: this.url.href, method, endpoint, statuses: answers.map((answer) => answer.status) };
        // node-jstp never confirms a BIND: silence (504) is not a refusal.
        if (fields.statuses.some((status) => status !== Status.Timeout)) {
          this.logger.warn(fields, 'the server refused a BIND or RELEASE');
          for (const listener of [...this.listeners.refused]) {
            try {
              listener({ method, endpoint, answers });
            } catch (error) {
              this.logger.error({ err: error }, 'refused listener failed');
            }
          }
        } else this.logger.debug(fields, 'the server did not confirm a BIND or RELEASE');
      },
      // The client closed meanwhile.
      () => undefined,
    );
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Opens a client; it connects (and reconnects) in the background: `await client.ready()`.
 * With `{ urls }`, a balancing client over the members of a cluster (client-balancer.ts).
 */
export function connect(options: BalancedOptions): BalancedClient;
// Last, so that `Parameters<typeof connect>` stays the single client's.
export function connect(url: string | URL, options?: ClientOptions): Client;
export function connect(target: string | URL | BalancedOptions, options: ClientOptions = {}): Client | BalancedClient {
  if (typeof target === 'string' || target instanceof URL) return new Client(target, options);
  return new BalancedClient(target, (url, linkOptions) => new Client(url, linkOptions));
}

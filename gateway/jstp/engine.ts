/**
 * The JSTP dispatch cycle: validate, pass the pipeline, forward, process (BIND /
 * RELEASE / regular / ANSWER), transactions with triggering ids, timeouts and
 * `101 No More Answers`. Pure: no sockets. Every timer it starts is cleared by
 * `close()`.
 */
import type { Channel } from './channel.js';
import {
  createAnswer,
  createDispatch,
  createSubscription,
  IMPLEMENTATION_TAG,
  morphologyOf,
  validateDispatch,
  type Dispatch,
  type EndpointMethod,
  type Hop,
  type Method,
  type Mode,
  type RegularMethod,
  type ResourceElement,
  type Token,
} from './dispatch.js';
import { compilePattern, normalizePattern, type Captures, type CompiledPattern } from './endpoint.js';
import { errors, PasarelaError, Status } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import type { Peer, PeerEndpoint, PeerRequestOptions } from './peer.js';
import { Pipeline, type Direction, type Stage, type Stopped } from './pipeline.js';
import { Reply, type Answer, type AnswerSink } from './reply.js';
import { RequestMethods } from './request-methods.js';
import { SubscriptionTable, type Subscription } from './table.js';
import { randomEngineId, randomUUID } from './uuid.js';

export type { Answer } from './reply.js';
export { Reply, AnswerError } from './reply.js';
export type { Peer, PeerEndpoint, PeerRequestOptions } from './peer.js';
export type { AnswerVerdict, DropVerdict, Stage, Verdict } from './pipeline.js';

/** What a handler receives for each dispatch that triggers its subscription. */
export interface Incoming {
  readonly dispatch: Dispatch;
  readonly method: Method;
  /** The dispatch's resource, or the endpoint pattern of a triggering BIND/RELEASE. */
  readonly resource: readonly ResourceElement[];
  readonly body: unknown;
  /** Named captures of the subscription's pattern. */
  readonly params: Captures;
  /** The channel the dispatch arrived on; undefined for local dispatches. */
  readonly from: Channel | undefined;
  /** True when the emitter waits for an answer (the dispatch has a transaction id). */
  readonly expectsAnswer: boolean;
  /** Answers once; later calls and calls without a transaction are ignored. */
  answer(status: number, body?: unknown): void;
}

/**
 * A local subscriber. Returning a value (or a promise of one) that is not undefined
 * answers 200 with it; throwing answers 500.
 */
export type Handler = (incoming: Incoming) => unknown;

export interface EndpointInput {
  method: EndpointMethod | Lowercase<EndpointMethod>;
  resource: readonly (string | number)[];
}

/**
 * Picks the channel that reaches a dispatch's next hop, opening a connection if it
 * must; the engine then sends the dispatch there (through the outbound stages).
 * Returns the channel, or a promise of it; rejects (or throws) with a PasarelaError
 * whose `status` is 409 (unknown label), 502 (unreachable), 503 or 506 (refused).
 * Answers come back through `Engine.receive` on that channel, and only from it;
 * when it is detached, what still waits on it is answered 502.
 */
export type Forwarder = (dispatch: Dispatch, hop: Hop, from: Channel | undefined) => Channel | PromiseLike<Channel>;

export interface EngineOptions {
  /** This engine's id in `via` traces (default: 8 random characters). */
  id?: string;
  mode?: Mode;
  /** How long a triggering id may wait for its answer before a 504 (default 10 s). */
  answerTimeoutMs?: number;
  logger?: Logger;
  forwarder?: Forwarder;
}

export interface RequestOptions {
  host?: Hop[];
  referer?: unknown;
  /** Extra headers to send along (0.6 `from`/`to`, resource-specific ones). */
  headers?: Record<string, unknown>;
}

export interface EngineStats {
  subscriptions: number;
  transactions: number;
  pendingTriggers: number;
  channels: number;
  received: number;
  invalid: number;
  /** Dispatches a pipeline stage dropped or answered. */
  stopped: number;
  /** Dispatches that came back to this engine after it had delivered them (their `via` names it): dropped. */
  looped: number;
}

interface LocalSubscriber {
  readonly kind: 'local';
  readonly handler: Handler;
}

type Subscriber = LocalSubscriber | Channel;

/** Where a transaction's answers go: a local reply, or the channel that asked. */
type Origin =
  | { kind: 'local'; sink: AnswerSink }
  | { kind: 'channel'; channel: Channel; triggeringId: string | undefined; speaksNoMoreAnswers: boolean };

/** A triggering id waiting for its answer. */
interface PendingTrigger {
  readonly id: string;
  readonly transaction: Transaction;
  /** Set when the answer comes from another engine over this channel. */
  readonly channel: Channel | undefined;
  /** A forwarded dispatch (or one sent to a peer): the next engine answers with triggering ids of its own. */
  readonly forwarded: boolean;
  /** The channel a forwarded dispatch went out on, once known. */
  via: Channel | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Transaction {
  readonly id: string;
  readonly origin: Origin;
  readonly pending: Map<string, PendingTrigger>;
  /** Set while subscribers are being triggered, so an early answer can't end the set. */
  triggering: boolean;
  /** Answers relayed to the origin so far. */
  relayed: number;
}

/**
 * What travels with a dispatch through the pipeline: for an inbound local request,
 * its transaction; for an outbound request, the trigger waiting on its answer.
 */
type StageContext = Transaction | PendingTrigger | undefined;

const LOCAL = 'local' as const;
const FORWARD_KEY = '\u0000forward';

function isLocal(subscriber: Subscriber): subscriber is LocalSubscriber {
  return (subscriber as LocalSubscriber).kind === LOCAL;
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Engine extends RequestMethods {
  /** Written into the `via` trace of every dispatch it delivers to another engine. */
  readonly id: string;
  readonly mode: Mode;
  readonly answerTimeoutMs: number;
  private readonly logger: Logger;
  private forwarder: Forwarder | undefined;
  private readonly table = new SubscriptionTable<Subscriber>();
  private readonly transactions = new Map<string, Transaction>();
  private readonly channelTriggers = new Map<Channel, Set<PendingTrigger>>();
  private readonly localSubscribers = new WeakMap<Handler, LocalSubscriber>();
  private readonly channels = new Set<Channel>();
  private readonly pipeline: Pipeline<StageContext>;
  private pendingCount = 0;
  private received = 0;
  private invalid = 0;
  private stoppedCount = 0;
  private loopedCount = 0;
  private closed = false;
  /** The `via` header of a dispatch this engine delivers first (shared: never changed in place). */
  private readonly ownTrace: { readonly via: readonly string[] };
  /** What the text of such a dispatch ends with instead of its last brace. */
  private readonly traceSuffix: string;

  constructor(options: EngineOptions = {}) {
    super();
    this.id = options.id ?? randomEngineId();
    this.ownTrace = Object.freeze({ via: Object.freeze([this.id]) });
    this.traceSuffix = `,"via":${JSON.stringify(this.ownTrace.via)}}`;
    this.mode = options.mode ?? 'strict';
    this.answerTimeoutMs = options.answerTimeoutMs ?? 10_000;
    this.logger = options.logger ?? silentLogger();
    this.forwarder = options.forwarder;
    this.pipeline = new Pipeline<StageContext>(
      {
        passed: (direction, dispatch, channel, text, context) => this.passed(direction, dispatch, channel, text, context),
        stopped: (direction, dispatch, channel, context, outcome) => this.stopped(direction, dispatch, channel, context, outcome),
      },
      this.logger,
    );
  }

  /** Installs the hook that picks the channel toward a dispatch's next `host` hop. */
  setForwarder(forwarder: Forwarder | undefined): void {
    this.forwarder = forwarder;
  }

  /**
   * Adds a pipeline stage: its `inbound` runs on every dispatch entering the engine
   * (in the order stages were added), its `outbound` on every dispatch leaving it
   * (in the reverse order). Returns the function that removes it.
   */
  use(stage: Stage): () => void {
    return this.pipeline.use(stage);
  }

  /** The names of the stages in use. */
  get stages(): string[] {
    return this.pipeline.stageNames;
  }

  // ---- local API -------------------------------------------------------------

  /** Subscribes a local handler; returns the function that unbinds it. */
  bind(endpoint: EndpointInput, handler: Handler): () => void {
    this.assertOpen();
    const { method, pattern } = this.compileEndpoint(endpoint);
    let subscriber = this.localSubscribers.get(handler);
    if (!subscriber) {
      subscriber = { kind: LOCAL, handler };
      this.localSubscribers.set(handler, subscriber);
    }
    const { subscription } = this.table.add(method, pattern, subscriber);
    return () => {
      this.table.removeSubscription(subscription);
    };
  }

  /** Sends a regular dispatch with a transaction; the reply resolves with its answers. */
  request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: RequestOptions = {}): Reply {
    this.assertOpen();
    const transactionId = randomUUID();
    const dispatch = this.build(method, resource, body, options, [transactionId]);
    const reply = new Reply(transactionId);
    const transaction = this.openTransaction(transactionId, { kind: 'local', sink: reply });
    this.enter(dispatch, undefined, undefined, transaction);
    return reply;
  }

  /** Fire and forget: a dispatch without a transaction. */
  emit(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: RequestOptions = {}): void {
    this.assertOpen();
    this.enter(this.build(method, resource, body, options, undefined), undefined, undefined, undefined);
  }

  /** The local API aimed at one channel (a client's server, a device's link). */
  peer(channel: Channel): Peer {
    return new ChannelPeer(this, channel);
  }

  // ---- channels ----------------------------------------------------------------

  /**
   * Takes a parsed dispatch from a channel: validates it (answering 400/405/505
   * when it carries a transaction id, else dropping it with a logged reason) and
   * passes it on. `text` is the JSON it was parsed from, if it came as one line:
   * relayed as it is when nothing about the dispatch changes on the way.
   */
  receive(raw: unknown, from: Channel, text?: string): void {
    if (this.closed) return;
    this.received++;
    this.channels.add(from);
    const result = validateDispatch(raw, this.mode);
    if (!result.ok) {
      this.invalid++;
      this.logger.warn({ channel: from.id, status: result.status, reason: result.reason }, 'invalid dispatch');
      if (result.answerable && result.transactionId !== undefined) {
        const protocol = (raw as Record<string, unknown>).protocol;
        this.sendError(from, result.transactionId, result.status, result.reason, undefined, speaksNoMoreAnswers(protocol));
      }
      return;
    }
    if (result.repairs.length > 0) {
      this.logger.debug({ channel: from.id, repairs: result.repairs }, 'dispatch repaired');
    }
    this.enter(result.dispatch, from, result.pristine ? text : undefined, undefined);
  }

  /**
   * A dispatch from a channel that its decoder read but could not restore (a resource
   * alias the peer never defined): invalid, so it is counted and logged with
   * `reason`, and answered 400 when it carries a transaction id (an ANSWER never is).
   */
  refuse(raw: Record<string, unknown>, from: Channel, reason: string): void {
    if (this.closed) return;
    this.received++;
    this.invalid++;
    this.logger.warn({ channel: from.id, status: Status.BadDispatch, reason }, 'invalid dispatch');
    const token = raw.token;
    const transactionId = Array.isArray(token) && typeof token[0] === 'string' && token[0].length > 0 ? token[0] : undefined;
    if (transactionId === undefined || raw.method === 'ANSWER') return;
    this.channels.add(from);
    this.sendError(from, transactionId, Status.BadDispatch, reason, undefined, speaksNoMoreAnswers(raw.protocol));
  }

  /** A channel closed: release what it bound, fail what waits on it, forget what it asked. */
  detach(channel: Channel): void {
    this.channels.delete(channel);
    const released = this.table.removeSubscriber(channel);
    const triggers = this.channelTriggers.get(channel);
    if (triggers) {
      this.channelTriggers.delete(channel);
      for (const trigger of [...triggers]) {
        this.completeTrigger(trigger, Status.UnreachableHost, { reason: `channel ${channel.id} closed` });
      }
    }
    for (const transaction of [...this.transactions.values()]) {
      if (transaction.origin.kind === 'channel' && transaction.origin.channel === channel) {
        this.dropTransaction(transaction);
      }
    }
    if (released > 0) this.logger.debug({ channel: channel.id, released }, 'channel subscriptions released');
    this.pipeline.detached(channel);
  }

  stats(): EngineStats {
    return {
      subscriptions: this.table.size,
      transactions: this.transactions.size,
      pendingTriggers: this.pendingCount,
      channels: this.channels.size,
      received: this.received,
      invalid: this.invalid,
      stopped: this.stoppedCount,
      looped: this.loopedCount,
    };
  }

  /** How many subscriptions a channel holds here. */
  subscriptionCount(channel: Channel): number {
    return this.table.countFor(channel);
  }

  /** Whether the channel already holds this endpoint (binding it again changes nothing). */
  isBound(channel: Channel, endpoint: { method: EndpointMethod; resource: readonly string[] }): boolean {
    const normalized = normalizePattern(endpoint.resource, 'strict');
    return normalized.ok && this.table.find(endpoint.method, compilePattern(normalized.pattern), channel) !== undefined;
  }

  /** Triggers waiting for an answer over this channel (e.g. forwarded dispatches). */
  pendingOn(channel: Channel): number {
    return this.channelTriggers.get(channel)?.size ?? 0;
  }

  /** Clears every timer and subscription; pending local replies fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const transaction of [...this.transactions.values()]) {
      this.dropTransaction(transaction);
      if (transaction.origin.kind === 'local') {
        transaction.origin.sink.fail(errors.engineClosed());
      }
    }
    this.channelTriggers.clear();
    this.channels.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- the pipeline -----------------------------------------------------------------

  /** A dispatch entering the engine: the inbound stages, then the cycle. */
  private enter(dispatch: Dispatch, from: Channel | undefined, text: string | undefined, transaction: Transaction | undefined): void {
    if (this.pipeline.inboundIdle) this.admit(dispatch, from, text, transaction);
    else this.pipeline.run('inbound', dispatch, from, text, transaction);
  }

  /** A dispatch leaving the engine: the outbound stages, then the channel. */
  private send(channel: Channel, dispatch: Dispatch, text: string | undefined, trigger: PendingTrigger | undefined): void {
    if (this.pipeline.outboundIdle) this.write(channel, dispatch, text, trigger);
    else this.pipeline.run('outbound', dispatch, channel, text, trigger);
  }

  private passed(direction: Direction, dispatch: Dispatch, channel: Channel | undefined, text: string | undefined, context: StageContext): void {
    if (this.closed) return;
    if (direction === 'inbound') this.admit(dispatch, channel, text, context as Transaction | undefined);
    else this.write(channel!, dispatch, text, context as PendingTrigger | undefined);
  }

  private stopped(direction: Direction, dispatch: Dispatch, channel: Channel | undefined, context: StageContext, outcome: Stopped): void {
    this.stoppedCount++;
    const { stage, status, reason, details } = outcome;
    this.logger.debug({ stage, direction, channel: channel?.id, method: dispatch.method, status, reason }, 'dispatch stopped by a stage');
    if (this.closed) return;
    if (direction === 'outbound') {
      const trigger = context as PendingTrigger | undefined;
      if (!trigger) return;
      // An answer verdict answers the requester now; a drop leaves the others to answer.
      if (status !== undefined) this.completeTrigger(trigger, status, { ...details, reason });
      else this.finishTrigger(trigger);
      return;
    }
    const transaction = context as Transaction | undefined;
    if (transaction) {
      // A local request.
      if (status !== undefined) this.engineAnswer(transaction, status, details ? { ...details, reason } : reason);
      else this.failLocal(transaction, errors.dropped(stage, reason));
      return;
    }
    const transactionId = dispatch.token?.[0];
    if (status !== undefined && channel && transactionId !== undefined && dispatch.method !== 'ANSWER') {
      this.sendError(channel, transactionId, status, reason, dispatch.token?.[1], speaksNoMoreAnswers(dispatch.protocol), details);
    }
  }

  /** Writes to the channel; a dispatch it cannot encode is answered 400 instead of lost. */
  private write(channel: Channel, dispatch: Dispatch, text: string | undefined, trigger: PendingTrigger | undefined): void {
    try {
      channel.send(dispatch, text);
    } catch (error) {
      this.logger.warn({ channel: channel.id, method: dispatch.method, err: error }, 'channel send failed');
      if (trigger) this.completeTrigger(trigger, Status.BadDispatch, { reason: `cannot be sent to ${channel.id}: ${errorMessage(error)}` });
    }
  }

  // ---- the dispatch cycle ---------------------------------------------------------

  /** After the inbound stages: a remote request opens its transaction, then the cycle. */
  private admit(dispatch: Dispatch, from: Channel | undefined, text: string | undefined, transaction: Transaction | undefined): void {
    if (!from) {
      this.process(dispatch, undefined, transaction, text);
      return;
    }
    if (dispatch.via !== undefined && this.deliveredBefore(dispatch)) {
      this.dropLooped(dispatch, from);
      return;
    }
    const transactionId = dispatch.token?.[0];
    if (transactionId === undefined || dispatch.method === 'ANSWER') {
      this.process(dispatch, from, undefined, text);
      return;
    }
    if (this.transactions.has(transactionId)) {
      // Also what a forwarding loop looks like: the same transaction coming back.
      this.logger.warn({ channel: from.id, transactionId }, 'transaction id already in use');
      this.sendError(from, transactionId, Status.BadDispatch, 'transaction id already in use', dispatch.token?.[1], speaksNoMoreAnswers(dispatch.protocol));
      return;
    }
    const opened = this.openTransaction(transactionId, {
      kind: 'channel',
      channel: from,
      triggeringId: dispatch.token?.[1],
      speaksNoMoreAnswers: speaksNoMoreAnswers(dispatch.protocol),
    });
    this.process(dispatch, from, opened, text);
  }

  /**
   * Whether this engine already delivered the dispatch (its id is in the `via`
   * trace). A dispatch still on its `host` route is only passing through: engines
   * that forward do not write themselves into the trace.
   */
  private deliveredBefore(dispatch: Dispatch): boolean {
    const via = dispatch.via;
    return (dispatch.host === undefined || dispatch.host.length === 0) && Array.isArray(via) && via.includes(this.id);
  }

  /**
   * A dispatch that came back: delivered again it would circulate. A request is
   * closed at once for its sender: 101 for peers that know it (no answer from here),
   * 404 for the others.
   */
  private dropLooped(dispatch: Dispatch, from: Channel): void {
    this.loopedCount++;
    this.logger.debug({ channel: from.id, method: dispatch.method, via: dispatch.via }, 'dispatch came back through its own path: dropped');
    const token = dispatch.token;
    if (!token || dispatch.method === 'ANSWER') return;
    if (speaksNoMoreAnswers(dispatch.protocol)) {
      this.send(from, createAnswer(Status.NoMoreAnswers, token[0], token[1] ?? randomUUID()), undefined, undefined);
    } else {
      this.sendError(from, token[0], Status.NotFound, 'this dispatch already passed through this engine', token[1], false);
    }
  }

  private process(dispatch: Dispatch, from: Channel | undefined, transaction: Transaction | undefined, text: string | undefined): void {
    if (dispatch.host && dispatch.host.length > 0) {
      this.forward(dispatch, from, transaction);
      return;
    }
    switch (morphologyOf(dispatch.method)) {
      case 'answer':
        this.processAnswer(dispatch, from);
        return;
      case 'subscription':
        this.processSubscription(dispatch, from, transaction);
        return;
      default:
        this.trigger(dispatch, dispatch.resource!, from, transaction, text);
    }
  }

  private processSubscription(dispatch: Dispatch, from: Channel | undefined, transaction: Transaction | undefined): void {
    const endpoint = dispatch.endpoint!;
    if (from) {
      const pattern = compilePattern(endpoint.resource);
      if (dispatch.method === 'BIND') {
        this.table.add(endpoint.method, pattern, from);
      } else if (!this.table.remove(endpoint.method, pattern, from)) {
        if (transaction) this.engineAnswer(transaction, Status.UnboundEndpoint, 'nothing bound at this endpoint');
        return;
      }
    }
    // A BIND or RELEASE is itself a dispatch that subscribers of BIND/RELEASE see.
    this.triggerSubscribers(dispatch, endpoint.resource, from, undefined, undefined);
    if (transaction) this.engineAnswer(transaction, Status.Ok, undefined);
  }

  private trigger(
    dispatch: Dispatch,
    resource: readonly ResourceElement[],
    from: Channel | undefined,
    transaction: Transaction | undefined,
    text: string | undefined,
  ): void {
    const triggered = this.triggerSubscribers(dispatch, resource, from, transaction, text);
    if (transaction && triggered === 0) {
      this.engineAnswer(transaction, Status.NotFound, 'no subscription matched');
    }
  }

  /** Delivers to every matching subscriber except the channel it came from. */
  private triggerSubscribers(
    dispatch: Dispatch,
    resource: readonly ResourceElement[],
    from: Channel | undefined,
    transaction: Transaction | undefined,
    text: string | undefined,
  ): number {
    const matches = this.table.match(dispatch.method, resource);
    let triggered = 0;
    if (transaction) transaction.triggering = true;
    // What other engines get: the dispatch with this engine added to its `via` trace.
    let traced: Dispatch | undefined;
    let tracedText: string | undefined;
    for (let i = 0; i < matches.length; i++) {
      const subscription = matches[i]!;
      const subscriber = subscription.subscriber;
      if (subscriber === from) continue;
      triggered++;
      if (isLocal(subscriber)) {
        this.deliverLocal(subscription as Subscription<LocalSubscriber>, dispatch, resource, from, transaction);
      } else {
        if (!traced) {
          traced = this.withTrace(dispatch);
          tracedText = text !== undefined && dispatch.via === undefined ? text.slice(0, -1) + this.traceSuffix : undefined;
        }
        this.deliverRemote(subscriber, traced, transaction, tracedText);
      }
    }
    if (transaction) {
      transaction.triggering = false;
      if (triggered > 0 && transaction.pending.size === 0) this.endTransaction(transaction);
    }
    return triggered;
  }

  /**
   * The dispatch with this engine's id appended to its `via` trace: an engine that
   * finds its own id there has delivered it already (see `deliveredBefore`). Its
   * caller adds the header to the end of the text it came in, so a relay is still
   * written without encoding it again.
   */
  private withTrace(dispatch: Dispatch): Dispatch {
    const via = dispatch.via;
    const trace = Array.isArray(via) ? { via: [...(via as unknown[]), this.id] } : this.ownTrace;
    // Object.assign is several times faster than a spread here, but it would take a
    // `__proto__` header for the prototype: a spread keeps that one a header.
    return Object.hasOwn(dispatch, '__proto__') ? { ...dispatch, ...trace } : Object.assign({}, dispatch, trace);
  }

  private deliverLocal(
    subscription: Subscription<LocalSubscriber>,
    dispatch: Dispatch,
    resource: readonly ResourceElement[],
    from: Channel | undefined,
    transaction: Transaction | undefined,
  ): void {
    const trigger = transaction ? this.addTrigger(transaction, randomUUID(), undefined, false) : undefined;
    const incoming = new LocalIncoming(this, subscription.pattern, dispatch, resource, from, trigger);
    try {
      const result = subscription.subscriber.handler(incoming);
      if (result === undefined) return;
      if (isThenable(result)) {
        result.then(
          (value) => {
            if (value !== undefined) incoming.answer(Status.Ok, value);
          },
          (error: unknown) => this.handlerFailed(error, incoming),
        );
      } else {
        incoming.answer(Status.Ok, result);
      }
    } catch (error) {
      this.handlerFailed(error, incoming);
    }
  }

  /**
   * @internal Called by LocalIncoming.answer: a local handler's answer for its
   * triggering id. 100 Acknowledge goes to the requester and leaves the trigger open
   * for the final answer; 101 closes it without an answer of its own.
   */
  answerTrigger(trigger: PendingTrigger, status: number, body: unknown): void {
    if (status === Status.NoMoreAnswers) {
      this.finishTrigger(trigger);
    } else if (status === Status.Acknowledge) {
      if (trigger.transaction.pending.get(trigger.id) !== trigger) return;
      this.relay(trigger.transaction, trigger, createAnswer(status, trigger.transaction.id, trigger.id, body));
      this.restartTimer(trigger);
    } else {
      this.completeTrigger(trigger, status, body);
    }
  }

  private handlerFailed(error: unknown, incoming: LocalIncoming): void {
    const dispatch = incoming.dispatch;
    this.logger.error({ err: error, method: dispatch.method, resource: dispatch.resource }, 'handler failed');
    const status = error instanceof PasarelaError && error.status !== undefined ? error.status : Status.InternalError;
    incoming.answer(status, { error: errorMessage(error) });
  }

  private deliverRemote(channel: Channel, dispatch: Dispatch, transaction: Transaction | undefined, text: string | undefined): void {
    if (!transaction) {
      this.send(channel, dispatch, text, undefined);
      return;
    }
    const trigger = this.addTrigger(transaction, randomUUID(), channel, false);
    this.send(channel, { ...dispatch, token: [transaction.id, trigger.id] }, undefined, trigger);
  }

  private forward(dispatch: Dispatch, from: Channel | undefined, transaction: Transaction | undefined): void {
    const hops = dispatch.host!;
    const hop = hops[0]!;
    const next: Dispatch = { ...dispatch };
    if (hops.length > 1) next.host = hops.slice(1);
    else delete next.host;
    if (transaction) next.token = [transaction.id];
    const forwarder = this.forwarder;
    if (!forwarder) {
      if (transaction) this.engineAnswer(transaction, Status.GatewayDisabled, 'forwarding is disabled');
      return;
    }
    const trigger = transaction ? this.addTrigger(transaction, FORWARD_KEY, undefined, true) : undefined;
    let picked: Channel | PromiseLike<Channel>;
    try {
      picked = forwarder(next, hop, from);
    } catch (error) {
      this.forwardFailed(hop, trigger, error);
      return;
    }
    if (!isThenable<Channel>(picked)) {
      this.forwardVia(picked, next, trigger);
      return;
    }
    picked.then(
      (channel) => this.forwardVia(channel, next, trigger),
      (error: unknown) => this.forwardFailed(hop, trigger, error),
    );
  }

  private forwardVia(channel: Channel, dispatch: Dispatch, trigger: PendingTrigger | undefined): void {
    if (this.closed) return;
    if (trigger) {
      // Answered meanwhile (a timeout): nothing to send for.
      if (trigger.transaction.pending.get(trigger.id) !== trigger) return;
      this.waitOn(trigger, channel);
    }
    this.send(channel, dispatch, undefined, trigger);
  }

  private forwardFailed(hop: Hop, trigger: PendingTrigger | undefined, error: unknown): void {
    const status = error instanceof PasarelaError && error.status !== undefined ? error.status : Status.UnreachableHost;
    this.logger.info({ hop, status, err: error }, 'forwarding failed');
    if (trigger) this.completeTrigger(trigger, status, { error: errorMessage(error) });
  }

  private processAnswer(dispatch: Dispatch, from: Channel | undefined): void {
    const [status, transactionId, triggeringId] = dispatch.resource as [number, string, string | undefined];
    const transaction = this.transactions.get(transactionId);
    if (!transaction) {
      // Observers may bind ANSWER; anything else is a late answer.
      if (this.triggerSubscribers(dispatch, dispatch.resource!, from, undefined, undefined) === 0) {
        this.logger.debug({ transactionId, status }, 'answer for an unknown transaction dropped');
      }
      return;
    }
    const trigger = this.findTrigger(transaction, triggeringId, from);
    if (!trigger) {
      this.logger.debug({ transactionId, triggeringId, status }, 'answer for an unknown triggering id dropped');
      return;
    }
    if (status === Status.NoMoreAnswers) {
      this.finishTrigger(trigger);
      return;
    }
    this.relay(transaction, trigger, dispatch);
    // A Pasarela peer closes its answer set with 101; another engine answers once, but
    // 100 Acknowledge is never its last word: the final answer follows.
    if (status === Status.Acknowledge || dispatch.protocol[2] === IMPLEMENTATION_TAG) this.restartTimer(trigger);
    else this.finishTrigger(trigger);
  }

  private findTrigger(transaction: Transaction, triggeringId: string | undefined, from: Channel | undefined): PendingTrigger | undefined {
    if (triggeringId !== undefined) {
      const trigger = transaction.pending.get(triggeringId);
      if (trigger && (trigger.channel === undefined || trigger.channel === from)) return trigger;
    }
    const forwarded = transaction.pending.get(FORWARD_KEY);
    return forwarded && (forwarded.via === undefined || forwarded.via === from) ? forwarded : undefined;
  }

  // ---- toward one peer (see Engine.peer) ---------------------------------------------

  /** @internal A request or subscription sent to one channel, answered from it only. */
  requestVia(channel: Channel, dispatch: Dispatch): Reply {
    const transactionId = dispatch.token![0];
    const reply = new Reply(transactionId);
    const transaction = this.openTransaction(transactionId, { kind: 'local', sink: reply });
    if (channel.isClosed) {
      this.engineAnswer(transaction, Status.UnreachableHost, `${channel.id} is closed`);
      return reply;
    }
    const trigger = this.addTrigger(transaction, FORWARD_KEY, undefined, true);
    this.waitOn(trigger, channel);
    this.send(channel, dispatch, undefined, trigger);
    return reply;
  }

  /** @internal A dispatch without a transaction, sent to one channel. */
  emitVia(channel: Channel, dispatch: Dispatch): void {
    this.send(channel, dispatch, undefined, undefined);
  }

  /** @internal Builds a regular dispatch for a peer. */
  buildFor(method: RegularMethod, resource: ResourceElement[], body: unknown, options: RequestOptions, withTransaction: boolean): Dispatch {
    this.assertOpen();
    return this.build(method, resource, body, options, withTransaction ? [randomUUID()] : undefined);
  }

  /** @internal Builds a BIND or RELEASE for a peer. */
  subscriptionFor(method: 'BIND' | 'RELEASE', endpoint: EndpointInput): Dispatch {
    this.assertOpen();
    return Engine.subscriptionDispatch(method, endpoint, this.mode, [randomUUID()]);
  }

  // ---- transactions ---------------------------------------------------------------

  private openTransaction(id: string, origin: Origin): Transaction {
    const transaction: Transaction = { id, origin, pending: new Map(), triggering: false, relayed: 0 };
    this.transactions.set(id, transaction);
    return transaction;
  }

  private addTrigger(transaction: Transaction, id: string, channel: Channel | undefined, forwarded: boolean): PendingTrigger {
    const trigger: PendingTrigger = { id, transaction, channel, forwarded, via: undefined, timer: undefined };
    transaction.pending.set(id, trigger);
    this.pendingCount++;
    if (channel) this.watchChannel(trigger, channel);
    this.restartTimer(trigger);
    return trigger;
  }

  /** A forwarded trigger now waits on the channel its dispatch went out on. */
  private waitOn(trigger: PendingTrigger, channel: Channel): void {
    trigger.via = channel;
    this.watchChannel(trigger, channel);
  }

  /** Indexes a trigger by the channel its answer must come from, for detach. */
  private watchChannel(trigger: PendingTrigger, channel: Channel): void {
    let set = this.channelTriggers.get(channel);
    if (!set) {
      set = new Set();
      this.channelTriggers.set(channel, set);
    }
    set.add(trigger);
  }

  private unwatchChannel(trigger: PendingTrigger): void {
    const channel = trigger.channel ?? trigger.via;
    if (channel) this.channelTriggers.get(channel)?.delete(trigger);
  }

  private restartTimer(trigger: PendingTrigger): void {
    if (trigger.timer) clearTimeout(trigger.timer);
    trigger.timer = setTimeout(() => {
      trigger.timer = undefined;
      this.completeTrigger(trigger, Status.Timeout, { reason: 'no answer in time' });
    }, this.answerTimeoutMs);
    (trigger.timer as { unref?: () => void }).unref?.();
  }

  /** An answer for one triggering id, produced here (handler, timeout, failure). */
  private completeTrigger(trigger: PendingTrigger, status: number, body: unknown): void {
    const transaction = trigger.transaction;
    if (transaction.pending.get(trigger.id) !== trigger) return;
    const triggeringId = trigger.id === FORWARD_KEY ? randomUUID() : trigger.id;
    this.relay(transaction, trigger, createAnswer(status, transaction.id, triggeringId, body));
    this.finishTrigger(trigger);
  }

  private finishTrigger(trigger: PendingTrigger): void {
    const transaction = trigger.transaction;
    if (transaction.pending.get(trigger.id) !== trigger) return;
    transaction.pending.delete(trigger.id);
    this.pendingCount--;
    if (trigger.timer) clearTimeout(trigger.timer);
    trigger.timer = undefined;
    this.unwatchChannel(trigger);
    if (transaction.pending.size === 0 && !transaction.triggering) this.endTransaction(transaction);
  }

  /** Sends an answer to whoever asked, under the triggering id they know. */
  private relay(transaction: Transaction, trigger: PendingTrigger | undefined, answer: Dispatch): void {
    transaction.relayed++;
    const origin = transaction.origin;
    if (origin.kind === 'local') {
      origin.sink.accept(toAnswer(answer));
      return;
    }
    const [status, , triggeringId] = answer.resource as [number, string, string | undefined];
    const knownId = origin.triggeringId ?? (trigger?.forwarded ? triggeringId : trigger?.id) ?? triggeringId;
    const resource: ResourceElement[] = knownId === undefined ? [status, transaction.id] : [status, transaction.id, knownId];
    // token: [] on the wire: node-jstp turns a token on an ANSWER into a stray subscription.
    this.send(origin.channel, { ...answer, resource, token: undefined }, undefined, undefined);
  }

  /** An answer the engine itself gives (404, 406, 506...), then the set is closed. */
  private engineAnswer(transaction: Transaction, status: number, body: unknown): void {
    this.relay(transaction, undefined, createAnswer(status, transaction.id, randomUUID(), reasonBody(body)));
    if (transaction.pending.size === 0) this.endTransaction(transaction);
  }

  private endTransaction(transaction: Transaction): void {
    if (this.transactions.get(transaction.id) !== transaction) return;
    // Every subscriber it reached was dropped on the way: nothing could answer it.
    if (transaction.relayed === 0) {
      this.relay(transaction, undefined, createAnswer(Status.NotFound, transaction.id, randomUUID(), { reason: 'no subscriber took it' }));
    }
    this.transactions.delete(transaction.id);
    const origin = transaction.origin;
    if (origin.kind === 'local') {
      origin.sink.end();
    } else if (origin.speaksNoMoreAnswers) {
      const triggeringId = origin.triggeringId ?? randomUUID();
      this.send(origin.channel, createAnswer(Status.NoMoreAnswers, transaction.id, triggeringId), undefined, undefined);
    }
  }

  /** Forgets a transaction without answering (its origin is gone, or the engine closes). */
  private dropTransaction(transaction: Transaction): void {
    for (const trigger of transaction.pending.values()) {
      if (trigger.timer) clearTimeout(trigger.timer);
      trigger.timer = undefined;
      this.unwatchChannel(trigger);
      this.pendingCount--;
    }
    transaction.pending.clear();
    this.transactions.delete(transaction.id);
  }

  private failLocal(transaction: Transaction, error: Error): void {
    this.dropTransaction(transaction);
    if (transaction.origin.kind === 'local') transaction.origin.sink.fail(error);
  }

  // ---- helpers --------------------------------------------------------------------

  private sendError(
    channel: Channel,
    transactionId: string,
    status: number,
    reason: string,
    triggeringId: string | undefined,
    closeWith101: boolean,
    details?: Readonly<Record<string, unknown>>,
  ): void {
    const trig = triggeringId ?? randomUUID();
    this.send(channel, createAnswer(status, transactionId, trig, { ...details, reason }), undefined, undefined);
    if (closeWith101) this.send(channel, createAnswer(Status.NoMoreAnswers, transactionId, trig), undefined, undefined);
  }

  private build(
    method: RegularMethod,
    resource: ResourceElement[],
    body: unknown,
    options: RequestOptions,
    token: Token | undefined,
  ): Dispatch {
    const dispatch = createDispatch(method, resource, { body, token, host: options.host, referer: options.referer });
    if (options.headers) {
      for (const [key, value] of Object.entries(options.headers)) {
        const lower = key.toLowerCase();
        if (!(lower in dispatch)) dispatch[lower] = value;
      }
    }
    return dispatch;
  }

  private compileEndpoint(endpoint: EndpointInput): { method: EndpointMethod; pattern: CompiledPattern } {
    const method = String(endpoint.method).toUpperCase() as EndpointMethod;
    const normalized = normalizePattern(endpoint.resource, this.mode);
    if (!normalized.ok) {
      throw errors.badPattern(normalized.reason);
    }
    return { method, pattern: compilePattern(normalized.pattern) };
  }

  private assertOpen(): void {
    if (this.closed) throw errors.engineClosed();
  }

  /** BIND or RELEASE sent to a remote engine over a channel (used by clients and pools). */
  static subscriptionDispatch(method: 'BIND' | 'RELEASE', endpoint: EndpointInput, mode: Mode = 'strict', token?: Token): Dispatch {
    const normalized = normalizePattern(endpoint.resource, mode);
    if (!normalized.ok) throw errors.badPattern(normalized.reason);
    return createSubscription(method, { method: String(endpoint.method).toUpperCase() as EndpointMethod, resource: normalized.pattern }, token);
  }
}

/** The local API aimed at one channel. */
class ChannelPeer implements Peer {
  constructor(private readonly engine: Engine, readonly channel: Channel) {}

  request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: PeerRequestOptions = {}): Reply {
    return this.engine.requestVia(this.channel, this.engine.buildFor(method, resource, body, options, true));
  }

  emit(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: PeerRequestOptions = {}): void {
    this.engine.emitVia(this.channel, this.engine.buildFor(method, resource, body, options, false));
  }

  bind(endpoint: PeerEndpoint): Reply {
    return this.engine.requestVia(this.channel, this.engine.subscriptionFor('BIND', endpoint));
  }

  release(endpoint: PeerEndpoint): Reply {
    return this.engine.requestVia(this.channel, this.engine.subscriptionFor('RELEASE', endpoint));
  }
}

/** One delivery to a local handler. A class, not a closure per call: this is the hot path. */
class LocalIncoming implements Incoming {
  private answered = false;
  private captures: Captures | undefined;
  constructor(
    private readonly engine: Engine,
    private readonly pattern: CompiledPattern,
    readonly dispatch: Dispatch,
    readonly resource: readonly ResourceElement[],
    readonly from: Channel | undefined,
    private readonly trigger: PendingTrigger | undefined,
  ) {}

  get method(): Method {
    return this.dispatch.method;
  }

  get body(): unknown {
    return this.dispatch.body;
  }

  /** Computed on first use: most telemetry handlers never read captures. */
  get params(): Captures {
    return (this.captures ??= this.pattern.match(this.resource) ?? {});
  }

  get expectsAnswer(): boolean {
    return this.trigger !== undefined;
  }

  answer(status: number, body?: unknown): void {
    if (this.answered || !this.trigger) return;
    // 100 Acknowledge is not the last word: the final answer (or 101) may follow.
    if (status !== Status.Acknowledge) this.answered = true;
    this.engine.answerTrigger(this.trigger, status, body);
  }
}

/**
 * 101 No More Answers exists from JSTP 0.6 on; 0.4 and 0.5 engines (node-jstp) would
 * hand it to their callbacks as one more answer, so they don't get it.
 */
function speaksNoMoreAnswers(protocol: unknown): boolean {
  return Array.isArray(protocol) && (protocol[1] === '0.6' || protocol[2] === IMPLEMENTATION_TAG);
}

function reasonBody(body: unknown): unknown {
  return typeof body === 'string' ? { reason: body } : body;
}

function toAnswer(dispatch: Dispatch): Answer {
  const [status, transactionId, triggeringId] = dispatch.resource as [number, string, string | undefined];
  return { status, transactionId, triggeringId, body: dispatch.body, dispatch };
}

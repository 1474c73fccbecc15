/**
 * One uplink: the gateway dials its far end (so it works behind NAT), keeps the link
 * with backoff and jitter, and forwards every dispatch that matches its patterns,
 * through its durable queue, in order.
 *
 * - Capture: the uplink is a local subscriber of its forward patterns. What it gets
 *   goes into the queue (without token); a request is answered 200 `{ uplink, id }`
 *   once its commit returned, which is how a producer learns it was accepted.
 * - Sending: from the first unacknowledged entry, in order, each with its id header
 *   (`[sender, boot, seq]`), while the link takes them (a high-water mark on what
 *   waits in its socket). Caught up, an entry goes as soon as it is appended, while
 *   its commit runs (see sendAhead).
 * - Acknowledgement: after a burst the uplink asks the far end for a receipt
 *   (`GET ["gateway", "received", sender]`, served by every Pasarela gateway's dedup
 *   plugin: the highest id it took in from this sender) and deletes what it covers. Nothing is deleted on any other
 *   ground. On a new link everything unacknowledged is sent again; the far end's
 *   dedup drops what it had.
 * - The link is a channel of the gateway's engine: with `serve: true` the far end may
 *   GET, PUT, POST and BIND on this gateway over it; otherwise what it sends (but
 *   answers) is refused with 403. Its own dispatches are never sent back to it, and
 *   a live delivery of something the queue carries anyway (the far end bound it) is
 *   dropped, so it arrives once.
 */
import type { ChannelSink } from '../channel-sink.js';
import type { Channel } from '../jstp/channel.js';
import { REGULAR_METHODS, type Dispatch } from '../jstp/dispatch.js';
import { compilePattern, type CompiledPattern } from '../jstp/endpoint.js';
import type { Engine, Incoming, Stage } from '../jstp/engine.js';
import { Backoff, type BackoffOptions } from '../jstp/backoff.js';
import { errors, Status } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import { ID_HEADER, idOf } from './dispatch-id.js';
import type { UplinkDialer, UplinkLink } from './dialers.js';
import type { OutboxQueue, QueueStats, StoredEntry } from './queue.js';
import type { ForwardPattern } from './uplink-config.js';

export interface UplinkOptions {
  readonly name: string;
  readonly url: URL;
  readonly forward: readonly ForwardPattern[];
  readonly serve: boolean;
  readonly sender: string;
  readonly connectTimeoutMs: number;
  readonly reconnect?: BackoffOptions;
  readonly engine: Engine;
  readonly queue: OutboxQueue;
  readonly dialer: UplinkDialer;
  /** Where the queue lives, for the status. */
  readonly store: string;
  readonly maxBytes: number;
  readonly logger: Logger;
  /** Told when the link comes up or goes down. */
  readonly onState?: (status: UplinkStatus) => void;
}

export interface ReplayReport {
  readonly dispatches: number;
  readonly ms: number;
  readonly perSecond: number;
}

/** What `GET ["gateway", "uplinks"]` says of one uplink. */
export interface UplinkStatus {
  readonly name: string;
  readonly url: string;
  readonly sender: string;
  readonly connected: boolean;
  /** When the link last came up or went down (ms since the epoch). */
  readonly since: number;
  readonly queued: { readonly count: number; readonly bytes: number; readonly maxBytes: number };
  /** Seconds since the oldest queued dispatch was accepted; null when none is queued. */
  readonly oldestAgeS: number | null;
  readonly level: QueueStats['level'];
  readonly accepted: number;
  readonly sent: number;
  readonly acknowledged: number;
  readonly dropped: { readonly total: number; readonly oldest: number; readonly expired: number; readonly refused: number };
  /** Dispatches the far end processed without taking them (a stage of its own refused them), given up after one resend. */
  readonly farRefused: number;
  /** Dispatches sent again on a new link (the far end drops those it had). */
  readonly resent: number;
  readonly store: string;
  readonly lastError: string | null;
  readonly lastReplay: ReplayReport | null;
}

/** Read from the queue per burst. */
const READ_BATCH = 256;
/** Bytes waiting in the link's socket above which sending pauses. */
const HIGH_WATER_BYTES = 512 * 1024;
const HIGH_WATER_RETRY_MS = 2;
/** After a receipt that did not come (timeout, a far end that is not Pasarela), ask again after this long. */
const RECEIPT_RETRY_MS = 1_000;

const REGULAR: ReadonlySet<string> = new Set(REGULAR_METHODS);
/** How long stopping waits for the link to close. */
const STOP_WAIT_MS = 500;

/** The dispatch as stored: no token (the stored copy is fire-and-forget), no earlier id. */
export function storedText(dispatch: Dispatch): string {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(dispatch)) {
    if (key === 'token' || key === ID_HEADER || key === 'host') continue;
    // defineProperty: a `__proto__` header stays data.
    Object.defineProperty(copy, key, { value: dispatch[key], enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(copy);
}

interface SentMark {
  readonly pos: number;
  readonly boot: number;
  readonly seq: number;
}

export class Uplink {
  readonly name: string;
  private readonly options: UplinkOptions;
  private readonly engine: Engine;
  private readonly queue: OutboxQueue;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly patterns: { method: string; pattern: CompiledPattern }[];
  /** Every link this uplink opened: what arrives over one is never forwarded back. */
  private readonly links = new WeakSet<Channel>();
  private link: UplinkLink | undefined;
  private since = Date.now();
  private cursor = 0;
  private lastSent: SentMark | undefined;
  private receiptPending = false;
  private receiptTimer: ReturnType<typeof setTimeout> | undefined;
  private warnedNoReceipt = false;
  /** Where the far end last lacked what it was sent: sent once more, then given up. */
  private lackedAt: number | undefined;
  /** Entries the far end processed and did not take (refused before its dedup), given up after one resend. */
  private farRefused = 0;
  private pumpQueued = false;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private dialTimer: ReturnType<typeof setTimeout> | undefined;
  private lastCaptured: Dispatch | undefined;
  private replay: { until: number; startedAt: number; dispatches: number } | undefined;
  private lastReplay: ReplayReport | null = null;
  private lastError: string | null = null;
  private failures = 0;
  private sent = 0;
  /** The highest position sent so far: sending one at or below it again is a resend. */
  private sentThrough = -1;
  private resent = 0;
  private refusedLogged = 0;
  private stopped = false;
  private readonly undo: (() => void)[] = [];
  /** The uplink's stage: refuses its far end's requests without `serve`, drops live copies of what its queue carries. */
  readonly stage: Stage;

  constructor(options: UplinkOptions) {
    this.options = options;
    this.name = options.name;
    this.engine = options.engine;
    this.queue = options.queue;
    this.logger = options.logger;
    this.backoff = new Backoff(options.reconnect ?? {}, { where: `uplinks.${options.name}.reconnect` });
    this.patterns = options.forward.map((forward) => ({ method: forward.method, pattern: compilePattern(forward.resource) }));
    this.stage = this.makeStage();
  }

  /** Binds the forward patterns and the stage, then dials. */
  start(): void {
    for (const forward of this.options.forward) {
      this.undo.push(this.engine.bind({ method: forward.method, resource: forward.resource }, (incoming) => this.capture(incoming)));
    }
    this.undo.push(this.engine.use(this.stage));
    this.undo.push(this.queue.onAppended((entry) => this.sendAhead(entry)));
    this.undo.push(this.queue.onCommitted(() => this.schedulePump()));
    this.dial();
  }

  /** Stops capturing and dialing, and closes the link. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const undo of this.undo.splice(0)) undo();
    for (const timer of [this.dialTimer, this.pumpTimer, this.receiptTimer]) if (timer) clearTimeout(timer);
    const link = this.link;
    if (!link) return;
    // A far end that never finishes the close must not hold the gateway's shutdown.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_WAIT_MS);
      link.onClose(() => {
        clearTimeout(timer);
        resolve();
      });
      link.close('gateway closing');
    });
  }

  status(): UplinkStatus {
    const stats = this.queue.stats();
    const dropped = stats.droppedOldest + stats.droppedExpired + stats.refused;
    return {
      name: this.name,
      url: this.options.url.href,
      sender: this.options.sender,
      connected: this.link !== undefined,
      since: this.since,
      queued: { count: stats.queued, bytes: stats.bytes, maxBytes: this.options.maxBytes },
      oldestAgeS: stats.oldestAt === undefined ? null : Math.max(0, Math.round((Date.now() - stats.oldestAt) / 100) / 10),
      level: stats.level,
      accepted: stats.accepted,
      sent: this.sent,
      acknowledged: stats.acknowledged,
      dropped: { total: dropped, oldest: stats.droppedOldest, expired: stats.droppedExpired, refused: stats.refused },
      farRefused: this.farRefused,
      resent: this.resent,
      store: this.options.store,
      lastError: this.lastError,
      lastReplay: this.lastReplay,
    };
  }

  // ---- capture ---------------------------------------------------------------------

  private capture(incoming: Incoming): unknown {
    const dispatch = incoming.dispatch;
    // A dispatch matching two patterns reaches this handler twice; the far end's own come back through no pattern.
    if (!REGULAR.has(dispatch.method) || dispatch === this.lastCaptured || (incoming.from !== undefined && this.links.has(incoming.from))) {
      if (incoming.expectsAnswer) incoming.answer(Status.NoMoreAnswers);
      return undefined;
    }
    this.lastCaptured = dispatch;
    const accepted = this.queue.append(storedText(dispatch));
    if (!incoming.expectsAnswer) {
      accepted.catch((error: unknown) => this.refusedQuietly(error));
      return undefined;
    }
    return accepted.then(({ boot, seq }) => ({ uplink: this.name, id: [this.options.sender, boot, seq] }));
  }

  /** A dispatch without a transaction the queue did not take: counted there; logged now and then. */
  private refusedQuietly(error: unknown): void {
    this.refusedLogged++;
    if (this.refusedLogged <= 3 || this.refusedLogged % 1000 === 0) {
      this.logger.warn({ uplink: this.name, refused: this.refusedLogged, err: error }, 'uplink buffer refused a dispatch');
    }
  }

  private forwards(dispatch: Dispatch): boolean {
    const resource = dispatch.resource;
    if (!resource) return false;
    return this.patterns.some(({ method, pattern }) => (method === '*' || method === dispatch.method) && pattern.match(resource) !== null);
  }

  private makeStage(): Stage {
    return {
      name: `uplink ${this.name}`,
      inbound: (dispatch, from) => {
        if (from === undefined || this.options.serve || dispatch.method === 'ANSWER' || !this.links.has(from)) return dispatch;
        return { answer: Status.Forbidden, reason: `uplink ${this.name} does not serve its far end (serve: false)` };
      },
      outbound: (dispatch, to) => {
        if (to !== this.link || dispatch.token !== undefined || !REGULAR.has(dispatch.method)) return dispatch;
        if (idOf(dispatch)?.[0] === this.options.sender || !this.forwards(dispatch)) return dispatch;
        return { drop: `goes to uplink ${this.name} through its buffer` };
      },
    };
  }

  // ---- the link ----------------------------------------------------------------------

  private dial(): void {
    if (this.stopped) return;
    const sink: ChannelSink = {
      receive: (raw, channel, text) => this.engine.receive(raw, channel, text),
      refuse: (raw, channel, reason) => this.engine.refuse(raw, channel, reason),
      detach: (channel) => this.engine.detach(channel),
    };
    this.options.dialer(this.options.url, { sink, logger: this.logger, connectTimeoutMs: this.options.connectTimeoutMs }).then(
      (link) => this.opened(link),
      (error: unknown) => this.dialFailed(error),
    );
  }

  private dialFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.lastError = message;
    this.failures++;
    if (this.stopped) return;
    const delay = this.backoff.next();
    // The first failure in a row is news; the retries are not.
    if (this.failures === 1) this.logger.info({ uplink: this.name, url: this.options.url.href, err: message, retryMs: Math.round(delay) }, 'uplink cannot connect; retrying');
    else this.logger.debug({ uplink: this.name, err: message, retryMs: Math.round(delay), attempts: this.failures }, 'uplink still cannot connect');
    this.dialTimer = setTimeout(() => this.dial(), delay);
  }

  private opened(link: UplinkLink): void {
    if (this.stopped) {
      link.close('gateway closing');
      return;
    }
    this.links.add(link);
    this.link = link;
    this.failures = 0;
    this.lastError = null;
    this.since = Date.now();
    this.backoff.succeeded();
    this.cursor = this.queue.head;
    this.lastSent = undefined;
    this.receiptPending = false;
    this.warnedNoReceipt = false;
    const queued = this.queue.stats().queued;
    this.replay = queued > 0 ? { until: this.queue.head + queued, startedAt: Date.now(), dispatches: queued } : undefined;
    link.onClose((info) => this.closed(link, info.reason));
    this.logger.info({ uplink: this.name, url: this.options.url.href, channel: link.id, queued }, queued > 0 ? 'uplink connected; replaying what is queued' : 'uplink connected');
    this.options.onState?.(this.status());
    this.schedulePump();
  }

  private closed(link: UplinkLink, reason: string): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.since = Date.now();
    this.lastError = reason;
    if (this.receiptTimer) clearTimeout(this.receiptTimer);
    // What was sent and not acknowledged goes again on the next link.
    const unacknowledged = this.lastSent ? Math.max(0, this.lastSent.pos + 1 - this.queue.head) : 0;
    this.options.onState?.(this.status());
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.logger.info({ uplink: this.name, reason, unacknowledged, retryMs: Math.round(delay) }, 'uplink disconnected');
    this.dialTimer = setTimeout(() => this.dial(), delay);
  }

  // ---- sending -------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpQueued || !this.link) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    const link = this.link;
    if (!link || link.isClosed || this.stopped) return;
    if (link.bufferedBytes > HIGH_WATER_BYTES) {
      this.pumpTimer ??= setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, HIGH_WATER_RETRY_MS);
      return;
    }
    const entries = this.queue.read(this.cursor, READ_BATCH);
    if (entries.length === 0) return;
    this.send(link, entries);
    this.schedulePump();
  }

  /**
   * An entry just appended goes out at once when the link is up and everything before
   * it was sent on this link, while its commit runs: the fsync (milliseconds at p99 on
   * an SD card) is then not on the live path. Its acceptance still waits for the
   * commit; if the gateway dies before it, the entry was never accepted, and the next
   * boot's ids are higher than its id, so the far end's dedup keeps the order. Behind
   * a backlog or a full socket it waits for the pump, as before.
   */
  private sendAhead(entry: StoredEntry): void {
    const link = this.link;
    if (!link || link.isClosed || this.stopped || link.bufferedBytes > HIGH_WATER_BYTES) return;
    if (entry.pos !== Math.max(this.cursor, this.queue.head)) return;
    this.send(link, [entry]);
  }

  /** Sends entries that follow the cursor, in order, each with its id; then asks for a receipt. */
  private send(link: UplinkLink, entries: readonly StoredEntry[]): void {
    const sender = this.options.sender;
    for (const entry of entries) {
      let dispatch: Dispatch;
      try {
        dispatch = JSON.parse(entry.text) as Dispatch;
      } catch (error) {
        this.logger.error({ uplink: this.name, pos: entry.pos, err: error }, 'stored dispatch unreadable; skipped');
        continue;
      }
      dispatch[ID_HEADER] = [sender, entry.boot, entry.seq];
      this.engine.emitVia(link, dispatch);
      this.sent++;
      if (entry.pos <= this.sentThrough) this.resent++;
      else this.sentThrough = entry.pos;
    }
    const last = entries[entries.length - 1]!;
    this.cursor = last.pos + 1;
    this.lastSent = { pos: last.pos, boot: last.boot, seq: last.seq };
    this.askReceipt();
  }

  private askReceipt(): void {
    const link = this.link;
    const target = this.lastSent;
    if (!link || !target || this.receiptPending || target.pos < this.queue.head) return;
    this.receiptPending = true;
    this.engine
      .peer(link)
      .request('GET', ['gateway', 'received', this.options.sender])
      .first()
      .then(
        (answer) => this.receipt(link, target, answer.body as { boot?: unknown; seq?: unknown } | null),
        (error: unknown) => this.noReceipt(link, error),
      );
  }

  private receipt(link: UplinkLink, target: SentMark, highest: { boot?: unknown; seq?: unknown } | null): void {
    this.receiptPending = false;
    if (link !== this.link) return;
    const boot = highest?.boot;
    const seq = highest?.seq;
    if (typeof boot !== 'number' || typeof seq !== 'number' || !Number.isSafeInteger(boot) || !Number.isSafeInteger(seq)) {
      this.noReceipt(link, errors.badDispatch(`receipt without an id: ${JSON.stringify(highest)}`));
      return;
    }
    if (boot > target.boot || (boot === target.boot && seq >= target.seq)) {
      this.queue.ack(target.pos);
      this.lackedAt = undefined;
    } else {
      // Everything sent before the question was processed first, yet the far end lacks
      // some of it. Within one boot positions and sequences advance together, so what it
      // has of this boot names a position.
      const covered = boot === target.boot && seq >= 1 ? target.pos - (target.seq - seq) : this.queue.head - 1;
      if (covered >= this.queue.head) this.queue.ack(covered);
      this.lacking(target, Math.max(covered + 1, this.queue.head));
    }
    this.finishReplay();
    if (this.lastSent && this.lastSent.pos > target.pos) this.askReceipt();
  }

  /** The far end lacks entries from `from` to the target: send them once more; if it still lacks them, it refused them. */
  private lacking(target: SentMark, from: number): void {
    if (this.lackedAt === from) {
      const count = target.pos + 1 - from;
      this.farRefused += count;
      this.lackedAt = undefined;
      this.logger.error({ uplink: this.name, from, through: target.pos, count }, 'far end does not take dispatches it was sent twice; giving them up');
      this.queue.ack(target.pos);
      return;
    }
    this.lackedAt = from;
    this.logger.warn({ uplink: this.name, from, through: target.pos }, 'far end lacks dispatches it was sent; sending them again');
    this.cursor = from;
    this.schedulePump();
  }

  private noReceipt(link: UplinkLink, error: unknown): void {
    this.receiptPending = false;
    if (link !== this.link) return;
    if (!this.warnedNoReceipt) {
      this.warnedNoReceipt = true;
      const status = (error as { status?: unknown }).status;
      this.logger.warn(
        { uplink: this.name, status, err: error instanceof Error ? error.message : String(error) },
        'far end sent no receipt (is it a Pasarela gateway? see docs/uplinks.md): nothing is deleted until one comes',
      );
    }
    this.receiptTimer = setTimeout(() => {
      this.receiptTimer = undefined;
      this.askReceipt();
    }, RECEIPT_RETRY_MS);
  }

  private finishReplay(): void {
    const replay = this.replay;
    if (!replay || this.queue.head < replay.until) return;
    this.replay = undefined;
    const ms = Date.now() - replay.startedAt;
    this.lastReplay = { dispatches: replay.dispatches, ms, perSecond: Math.round((replay.dispatches * 1000) / Math.max(ms, 1)) };
    this.logger.info({ uplink: this.name, ...this.lastReplay }, 'uplink replay done');
  }
}

/**
 * One connected peer as an engine channel, whatever the wire: it encodes what the
 * engine sends (JSON text, or compact CBOR when the peer speaks it), hands what the
 * peer sends to `engine.receive`, bounds what waits for a slow peer, and tells the
 * engine exactly once that the peer is gone.
 */
import type { Channel } from '../jstp/channel.js';
import { unrestorable, type DispatchCodec, type LinkCodec } from '../jstp/codec/codec.js';
import { IMPLEMENTATION_TAG, serializeDispatch, type Dispatch } from '../jstp/dispatch.js';
import type { Engine } from '../jstp/engine.js';
import { ErrorCode, type FixedErrorCode } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { TransportStats } from './transport.js';

/** Default bound on bytes queued for one peer: 8 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export type Encoding = 'json' | 'cbor';

/**
 * What a Connection needs of its socket. tcp.ts and ws.ts implement it; the wire
 * does the framing (a `\n` after each JSON line, one WebSocket message per dispatch).
 */
export interface Wire {
  /** Bytes accepted for the peer and not yet handed to the kernel. */
  buffered(): number;
  /** Queues one JSON-encoded dispatch, unframed. */
  writeText(text: string): void;
  /** Queues one CBOR-encoded dispatch, unframed. */
  writeBinary(bytes: Uint8Array): void;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes now, dropping what is queued. */
  destroy(): void;
}

/**
 * Encodes dispatches as JSON, remembering the last one: the engine fans one dispatch
 * out to every subscribed channel in a row, and this way it is serialized once. The
 * memo only lives until the current task ends, so a caller that changes a dispatch
 * object and sends it again later gets the new content. It also carries the binary
 * codec of a transport's connections, each of which opens its own link codec (CBOR
 * links differ by their aliases; the codec shares what they have in common).
 */
export class DispatchEncoder {
  readonly cbor: DispatchCodec | undefined;
  private jsonOf: Dispatch | undefined;
  private jsonText = '';
  private clearQueued = false;
  private readonly clear = (): void => {
    this.clearQueued = false;
    this.jsonOf = undefined;
    this.jsonText = '';
  };

  constructor(cbor?: DispatchCodec) {
    this.cbor = cbor;
  }

  json(dispatch: Dispatch): string {
    if (dispatch === this.jsonOf) return this.jsonText;
    const text = serializeDispatch(dispatch);
    this.jsonOf = dispatch;
    this.jsonText = text;
    if (!this.clearQueued) {
      this.clearQueued = true;
      queueMicrotask(this.clear);
    }
    return text;
  }
}

/** Why a connection closed. */
export interface CloseInfo {
  readonly reason: string;
  /** Set when this side closed it because of a fault (overflow, oversize, timeout...). */
  readonly code?: FixedErrorCode;
  /** True when this side decided to close. */
  readonly local: boolean;
}

export interface ConnectionStats {
  received: number;
  invalid: number;
  sent: number;
  /** Dispatches sent after the connection closed (dropped silently). */
  dropped: number;
  /** CBOR dispatches naming a resource alias the peer never defined (refused). */
  unknownAliases: number;
}

export interface ConnectionOptions {
  engine: Engine;
  logger?: Logger;
  /** Close the connection when more than this many bytes wait for the peer (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Shared by a transport's connections so fan-out serializes once. */
  encoder?: DispatchEncoder;
  /** The encoding to write until the peer shows its own (default json). */
  encoding?: Encoding;
  /** Tell a CBOR peer from the start that it may use resource aliases (a client does; a server answers offers). */
  offerAliases?: boolean;
  /** Largest CBOR dispatch accepted (default the codec's, 64 KiB). */
  maxCborBytes?: number;
  /** A transport's counters, updated along with the connection's own. */
  counters?: TransportStats;
  /** The peer's address (for limits kept per address); default: the id. */
  address?: string;
}

/** All-zero counters: a server transport's to start with, or a lone connection's (nobody reads those). */
export function emptyStats(): TransportStats {
  return { connections: 0, accepted: 0, received: 0, invalid: 0, sent: 0, overflows: 0, oversize: 0 };
}

function isTagged(value: unknown): boolean {
  const protocol = (value as { protocol?: unknown } | null)?.protocol;
  return Array.isArray(protocol) && protocol[2] === IMPLEMENTATION_TAG;
}

/** Invalid input is logged in full for the first few, then sampled, so a flood cannot flood the log. */
const LOG_INVALID_FIRST = 10;
const LOG_INVALID_EVERY = 1000;

export class Connection implements Channel {
  readonly id: string;
  /** Wire label: `tcp`, `ws`. */
  readonly label: string;
  /** What `send` writes: set by the transport from what the peer speaks. */
  encoding: Encoding;
  /** The peer's remote address, which per-address limits count by. */
  readonly address: string;
  /** Resolves (never rejects) once the connection is closed. */
  readonly closed: Promise<CloseInfo>;
  private readonly wire: Wire;
  private readonly engine: Engine;
  private readonly logger: Logger;
  private readonly encoder: DispatchEncoder;
  private readonly linkOptions: { offerAliases: boolean; maxBytes?: number };
  /** This connection's CBOR state (its aliases), opened when CBOR is first spoken. */
  private link: LinkCodec | undefined;
  private readonly maxBufferedBytes: number;
  private readonly counters: TransportStats;
  private info: CloseInfo | undefined;
  private resolveClosed!: (info: CloseInfo) => void;
  private listeners: ((info: CloseInfo) => void)[] = [];
  private received = 0;
  private invalid = 0;
  private sent = 0;
  private dropped = 0;
  private tagged = false;

  constructor(wire: Wire, label: string, id: string, options: ConnectionOptions) {
    this.wire = wire;
    this.label = label;
    this.id = id;
    this.address = options.address ?? id;
    this.engine = options.engine;
    this.logger = options.logger ?? silentLogger();
    this.encoder = options.encoder ?? new DispatchEncoder();
    this.encoding = options.encoding ?? 'json';
    this.linkOptions = { offerAliases: options.offerAliases ?? false, ...(options.maxCborBytes === undefined ? {} : { maxBytes: options.maxCborBytes }) };
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.counters = options.counters ?? emptyStats();
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get isClosed(): boolean {
    return this.info !== undefined;
  }

  /** Why it closed, once it has. */
  get closeInfo(): CloseInfo | undefined {
    return this.info;
  }

  /** Whether a CBOR codec is available to this connection. */
  get canCbor(): boolean {
    return this.encoder.cbor !== undefined;
  }

  /** Bytes waiting for the peer. */
  get bufferedBytes(): number {
    return this.info ? 0 : this.wire.buffered();
  }

  stats(): ConnectionStats {
    const unknownAliases = this.link?.stats().unknownAliases ?? 0;
    return { received: this.received, invalid: this.invalid, sent: this.sent, dropped: this.dropped, unknownAliases };
  }

  /** The CBOR link codec, opened on first use; undefined without a codec. */
  private cborLink(): LinkCodec | undefined {
    if (!this.link && this.encoder.cbor) this.link = this.encoder.cbor.openLink(this.linkOptions);
    return this.link;
  }

  /** Dispatches received so far (cheap: the idle probe reads it). */
  get receivedCount(): number {
    return this.received;
  }

  /** True once the peer sent a dispatch tagged `pasarela`: an engine that answers a RELEASE of nothing with 406. */
  get speaksPasarela(): boolean {
    return this.tagged;
  }

  /** Calls `listener` once when the connection closes (at once if it has). Returns the unsubscribe. */
  onClose(listener: (info: CloseInfo) => void): () => void {
    if (this.info) {
      listener(this.info);
      return () => {};
    }
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  // ---- Channel: engine -> peer ------------------------------------------------------

  /**
   * Queues a dispatch for the peer in its encoding (`text`, its JSON as it arrived,
   * is written as it is on a JSON wire). Dropped when closed. When more
   * than `maxBufferedBytes` then wait for the peer, the connection is closed
   * (PASARELA_CHANNEL_OVERFLOW) rather than letting memory grow.
   * Throws only for a dispatch that cannot be encoded.
   */
  send(dispatch: Dispatch, text?: string): void {
    if (this.info) {
      this.dropped++;
      return;
    }
    const wire = this.wire;
    const link = this.encoding === 'cbor' ? this.cborLink() : undefined;
    if (link) wire.writeBinary(link.encode(dispatch));
    else wire.writeText(text ?? this.encoder.json(dispatch));
    this.sent++;
    this.counters.sent++;
    const buffered = wire.buffered();
    if (buffered > this.maxBufferedBytes) {
      this.counters.overflows++;
      this.abort(ErrorCode.ChannelOverflow, `peer is not reading: ${buffered} bytes queued, limit ${this.maxBufferedBytes}`);
    }
  }

  // ---- peer -> engine (called by the transport) -------------------------------------------

  /** One JSON text from the peer: parsed and handed to the engine; invalid JSON is dropped and counted. */
  receiveJson(text: string): void {
    if (this.info) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      // Blank keep-alive lines are not worth a count.
      if (text.trim().length === 0) return;
      this.invalidInput(ErrorCode.InvalidJson, text, error);
      return;
    }
    // The text goes along, so a dispatch relayed unchanged is written as it came; only
    // a bare one-line object qualifies, since it must fit every wire's framing (a WS
    // message may be pretty-printed, or end with the newline node-jstp adds).
    const oneLine = text.charCodeAt(0) === 0x7b && text.charCodeAt(text.length - 1) === 0x7d && !text.includes('\n');
    this.receive(value, oneLine ? text : undefined);
  }

  /** One CBOR dispatch from the peer (a WebSocket binary message, one item of a CBOR sequence). */
  receiveCbor(bytes: Uint8Array): void {
    if (this.info) return;
    let value: unknown;
    try {
      value = this.decodeCbor(bytes);
    } catch (error) {
      this.undecodableCbor(bytes, error);
      return;
    }
    this.receive(value);
  }

  /** Decodes one CBOR dispatch with this connection's link codec (its aliases); throws what the codec throws. */
  decodeCbor(bytes: Uint8Array): unknown {
    const link = this.cborLink();
    if (!link) throw new Error('no CBOR codec installed');
    return link.decode(bytes);
  }

  /**
   * A CBOR dispatch that did not decode: counted and logged; one the codec could read
   * but not restore (an unknown alias) goes to the engine as invalid, which answers
   * its transaction 400. The connection stays open either way.
   */
  undecodableCbor(bytes: Uint8Array, error: unknown): void {
    if (this.info) return;
    const refused = unrestorable(error);
    if (!refused) {
      this.invalidInput(ErrorCode.DecodeError, bytes, error);
      return;
    }
    this.received++;
    this.counters.received++;
    try {
      this.engine.refuse(refused.partial, this, refused.message);
    } catch (error) {
      this.logger.error({ channel: this.id, err: error }, 'engine failed on a refused dispatch');
      this.abort(ErrorCode.BadDispatch, 'engine failed on a refused dispatch');
    }
  }

  /** A decoded value from the peer (and the JSON text it came as): the engine validates it. */
  receive(value: unknown, text?: string): void {
    if (this.info) return;
    this.received++;
    this.counters.received++;
    if (!this.tagged) this.tagged = isTagged(value);
    try {
      this.engine.receive(value, this, text);
    } catch (error) {
      // An engine fault must not take the process down with it; this peer goes.
      this.logger.error({ channel: this.id, err: error }, 'engine failed on a received dispatch');
      this.abort(ErrorCode.BadDispatch, 'engine failed on a received dispatch');
    }
  }

  // ---- closing --------------------------------------------------------------------------

  /** Closes gracefully: what is queued is flushed first. */
  close(reason = 'closed'): void {
    if (this.finish({ reason, local: true })) this.wire.end();
  }

  /** Closes now because of a fault, dropping what is queued; logged with its code. */
  abort(code: FixedErrorCode, reason: string): void {
    if (this.finish({ reason, code, local: true })) this.wire.destroy();
  }

  /** The transport saw the socket close (peer hang-up, network error). */
  wireClosed(reason = 'peer closed'): void {
    this.finish({ reason, local: false });
  }

  /** Counts an oversize frame and aborts: used by transports when a limit is hit while reading. */
  frameTooLarge(reason: string): void {
    if (this.info) return;
    this.counters.oversize++;
    this.abort(ErrorCode.FrameTooLarge, reason);
  }

  /** Counts and logs (sampled) a message that could not be decoded; the connection stays open. */
  invalidInput(code: FixedErrorCode, input: string | Uint8Array, error: unknown): void {
    this.invalid++;
    this.counters.invalid++;
    if (this.invalid <= LOG_INVALID_FIRST || this.invalid % LOG_INVALID_EVERY === 0) {
      const sample = typeof input === 'string' ? input.slice(0, 80) : Buffer.from(input.subarray(0, 40)).toString('hex');
      this.logger.warn(
        { channel: this.id, code, invalid: this.invalid, sample, err: error instanceof Error ? error.message : String(error) },
        'invalid input dropped',
      );
    }
  }

  /** Marks the connection closed; true the first time only. */
  private finish(info: CloseInfo): boolean {
    if (this.info) return false;
    this.info = info;
    if (info.code) this.logger.warn({ channel: this.id, code: info.code, reason: info.reason }, 'connection closed');
    else this.logger.debug({ channel: this.id, reason: info.reason, local: info.local }, 'connection closed');
    try {
      this.engine.detach(this);
    } catch (error) {
      this.logger.error({ channel: this.id, err: error }, 'engine failed to detach a channel');
    }
    this.resolveClosed(info);
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) {
      try {
        listener(info);
      } catch (error) {
        this.logger.error({ channel: this.id, err: error }, 'close listener failed');
      }
    }
    return true;
  }
}

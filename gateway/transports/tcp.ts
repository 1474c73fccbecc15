/**
 * JSTP over TCP: a server (node:net) and `dialTcp` for outbound connections.
 * Framing is on the byte stream: JSON lines (a dispatch may span chunks, many may
 * share one). The first byte of a connection tells the encoding: JSON text, or a
 * CBOR map header (0xA0-0xBF) for a CBOR sequence, answered in kind.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Engine } from '../jstp/engine.js';
import { ErrorCode, errors } from '../jstp/errors.js';
import { CborSequenceDecoder } from '../jstp/codec/cbor-sequence.js';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder } from '../jstp/codec/json.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { DispatchCodec } from '../jstp/codec/codec.js';
import { clientTlsOptions, verifyPeer, type ClientTls, type ServerTls } from '../security/tls.js';
import { Connection, DispatchEncoder, type Encoding, type Wire } from './connection.js';
import type { ConnectionGate } from './connection-gate.js';
import { watchIdle } from './idle-probe.js';
import type { LimitReporter } from './limit-reporter.js';
import { PendingInput, type InputBudget } from './pending-input.js';
import { ServerTransport } from './server.js';
import type { TransportAddress, TransportStats } from './transport.js';

export interface TcpConnectionOptions {
  engine: Engine;
  logger?: Logger;
  /** Largest JSON line or CBOR item accepted (default 1 MiB); a larger one closes the connection. */
  maxLineBytes?: number;
  /** Bytes that may wait for a slow peer before it is dropped (default 8 MiB). */
  maxBufferedBytes?: number;
  /**
   * Enables compact CBOR: a peer whose first byte is a CBOR map header (0xA0-0xBF)
   * is read as a CBOR sequence and answered in CBOR. Without it such a peer is closed.
   */
  cbor?: DispatchCodec;
  /** TCP keepalive after this long without traffic, so a vanished host is noticed (default 30 s; 0 off). */
  keepAliveMs?: number;
  /** How long a line (or CBOR item) the peer started may take to arrive whole; default no limit. */
  lineTimeoutMs?: number;
  /** The total of unfinished input, shared with other connections; default none. */
  inputBudget?: InputBudget;
  /** Where inputs over a limit are reported (counted and logged by the gateway). */
  report?: LimitReporter;
}

export interface TcpTransportOptions extends TcpConnectionOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port, reported by `listen()`. */
  port?: number;
  /** How long `close()` lets peers flush before destroying their sockets (default 2 s). */
  closeTimeoutMs?: number;
  /** Serve TLS with this certificate and key (label `tls`). */
  tls?: ServerTls;
  /** Connections in total and per address, shared with the other server transports. */
  gate?: ConnectionGate;
  /** Probe a peer holding subscriptions after this long without input (see idle-probe.ts); default off. */
  idleProbeMs?: number;
}

export interface DialTcpOptions extends TcpConnectionOptions {
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** What this side writes; the peer answers in kind (default json). */
  encoding?: Encoding;
  /** Tell a CBOR peer at once that it may alias toward this side (a client does). */
  offerAliases?: boolean;
  signal?: AbortSignal;
  /** Connect with TLS, trusting this (the system's CAs when empty). */
  tls?: ClientTls;
}

/** Default TCP keepalive delay: a quiet connection is probed by the kernel after 30 s. */
export const DEFAULT_KEEPALIVE_MS = 30_000;

/** Queued output is written at the end of the current task, or sooner past this size. */
const FLUSH_BYTES = 64 * 1024;

/**
 * A socket as a Connection's wire. Writes made in one task (a fan-out, a burst of
 * answers) are joined into one socket write: far fewer syscalls than one per dispatch.
 */
class TcpWire implements Wire {
  private text = '';
  private chunks: Uint8Array[] = [];
  private chunkBytes = 0;
  private queued = false;
  private readonly flush = (): void => {
    this.queued = false;
    const socket = this.socket;
    if (socket.destroyed) {
      this.text = '';
      this.chunks = [];
      this.chunkBytes = 0;
      return;
    }
    if (this.text.length > 0) {
      socket.write(this.text);
      this.text = '';
    }
    if (this.chunkBytes > 0) {
      socket.write(this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.chunkBytes));
      this.chunks = [];
      this.chunkBytes = 0;
    }
  };

  constructor(private readonly socket: net.Socket) {}

  buffered(): number {
    // Queued text is counted in UTF-16 units: exact for ASCII, close enough otherwise.
    return this.socket.writableLength + this.text.length + this.chunkBytes;
  }

  writeText(text: string): void {
    // Binary output queued before stays before.
    if (this.chunkBytes > 0) this.flush();
    this.text += text + '\n';
    this.schedule(this.text.length);
  }

  writeBinary(bytes: Uint8Array): void {
    if (this.text.length > 0) this.flush();
    this.chunks.push(bytes);
    this.chunkBytes += bytes.byteLength;
    this.schedule(this.chunkBytes);
  }

  end(): void {
    this.flush();
    this.socket.end();
  }

  destroy(): void {
    this.text = '';
    this.chunks = [];
    this.chunkBytes = 0;
    this.socket.destroy();
  }

  private schedule(size: number): void {
    if (size >= FLUSH_BYTES) this.flush();
    else if (!this.queued) {
      this.queued = true;
      process.nextTick(this.flush);
    }
  }
}

/** A CBOR map header, or the tag 259 head (0xd9 0x01 0x03) a Map-encoding library puts before one. */
function isCborStart(byte: number): boolean {
  return (byte >= 0xa0 && byte <= 0xbf) || byte === 0xd9;
}

/** Feeds a CBOR sequence (RFC 8742) from the stream to the connection, one dispatch per item, each decoded with the connection's aliases. */
function cborReader(connection: Connection, maxItemBytes: number, pending: PendingInput, report: LimitReporter | undefined): (chunk: Buffer) => void {
  const decoder = new CborSequenceDecoder({
    limits: { maxBytes: maxItemBytes, maxStringBytes: maxItemBytes },
    decode: (item) => connection.decodeCbor(item),
  });
  return (chunk) => {
    const items = decoder.push(chunk);
    pending.update(decoder.buffered);
    for (const item of items) {
      if (item.ok) connection.receive(item.value);
      else if (!item.fatal) connection.undecodableCbor(chunk, item.error);
      // CBOR has no resynchronisation point: after a framing error the stream is lost.
      else if (item.error.reason === 'too-large' || item.error.reason === 'string-too-long') {
        report?.exceeded('maxDispatchBytes', connection.address, { max: maxItemBytes });
        connection.frameTooLarge(`CBOR item larger than ${maxItemBytes} bytes`);
      }
      else connection.abort(ErrorCode.DecodeError, `CBOR sequence broken: ${item.error.message}`);
    }
  };
}

/**
 * Wraps a connected socket as a Connection attached to the engine, and detaches it
 * from the engine when it closes. The peer's first byte picks the reader: JSON lines,
 * or (with a codec) a CBOR sequence, which the connection then also writes.
 */
export function attachTcpSocket(
  socket: net.Socket,
  options: TcpConnectionOptions & { encoding?: Encoding; offerAliases?: boolean; encoder?: DispatchEncoder; counters?: TransportStats },
): Connection {
  const logger = options.logger ?? silentLogger();
  const id = `tcp ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const address = socket.remoteAddress ?? '?';
  const encoder = options.encoder ?? new DispatchEncoder(options.cbor);
  const maxFrameBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const connection = new Connection(new TcpWire(socket), 'tcp', id, {
    engine: options.engine,
    logger,
    maxBufferedBytes: options.maxBufferedBytes,
    encoder,
    encoding: options.encoding,
    offerAliases: options.offerAliases,
    maxCborBytes: maxFrameBytes,
    counters: options.counters,
    address,
  });
  const lines = new LineDecoder({ maxLineBytes: maxFrameBytes });
  const pending = new PendingInput({
    budget: options.inputBudget,
    timeoutMs: options.lineTimeoutMs,
    onFault: (limit, reason) => {
      options.report?.exceeded(limit, connection.address, { reason });
      connection.abort(ErrorCode.LimitExceeded, reason);
    },
  });
  const onLine = (line: string): void => connection.receiveJson(line);
  const readLines = (chunk: Buffer): void => {
    if (lines.push(chunk, onLine)) pending.update(lines.buffered);
    else {
      options.report?.exceeded('maxDispatchBytes', connection.address, { max: maxFrameBytes });
      connection.frameTooLarge(`line longer than ${maxFrameBytes} bytes`);
    }
  };
  let read: ((chunk: Buffer) => void) | undefined;

  socket.setNoDelay(true);
  const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
  if (keepAliveMs > 0) socket.setKeepAlive(true, keepAliveMs);
  socket.on('data', (chunk: Buffer) => {
    if (connection.isClosed) return;
    if (!read) {
      if (!isCborStart(chunk[0]!)) {
        read = readLines;
        connection.encoding = 'json';
      } else if (encoder.cbor) {
        read = cborReader(connection, maxFrameBytes, pending, options.report);
        connection.encoding = 'cbor';
      } else {
        connection.abort(ErrorCode.DecodeError, 'peer speaks CBOR and no CBOR codec is installed');
        return;
      }
    }
    read(chunk);
  });
  socket.on('error', (error: Error) => {
    logger.debug({ channel: id, err: error.message }, 'socket error');
  });
  socket.on('close', () => {
    lines.reset();
    pending.close();
    connection.wireClosed();
  });
  return connection;
}

export class TcpTransport extends ServerTransport<net.Socket> {
  readonly label: string;
  private readonly options: TcpTransportOptions;
  private readonly server: net.Server;
  private readonly encoder: DispatchEncoder;
  /** Under TLS, the sockets beneath, handshakes in progress included (destroyed when closing times out). */
  private readonly rawSockets = new Set<net.Socket>();

  constructor(options: TcpTransportOptions) {
    super(options.logger ?? silentLogger());
    this.options = options;
    this.encoder = new DispatchEncoder(options.cbor);
    this.label = options.tls ? 'tls' : 'tcp';
    // A handshake is input the peer started: it gets as long as a line to finish it.
    const handshakeTimeout = options.lineTimeoutMs && options.lineTimeoutMs > 0 ? options.lineTimeoutMs : undefined;
    this.server = options.tls
      ? tls.createServer({ cert: options.tls.cert, key: options.tls.key, handshakeTimeout }, (socket) => this.accept(socket))
      : net.createServer((socket) => this.accept(socket));
    // A client that fails the handshake is not a peer; say why at debug level.
    this.server.on('tlsClientError', (error: Error) => this.logger.debug({ err: error.message }, 'tls handshake failed'));
    // With TLS the gate counts a connection before its handshake, which costs CPU.
    if (options.tls) {
      this.server.on('connection', (socket: net.Socket) => {
        if (!this.admit(socket)) return;
        this.rawSockets.add(socket);
        socket.once('close', () => this.rawSockets.delete(socket));
      });
    }
  }

  listen(): Promise<TransportAddress> {
    const host = this.options.host ?? '127.0.0.1';
    return this.listenOn(this.server, host, this.options.port ?? 0, (error) => this.serverError(error, this.options.report));
  }

  protected async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    for (const connection of this.sockets.values()) connection.close('server closing');
    const timeout = this.options.closeTimeoutMs ?? 2000;
    const timer = setTimeout(() => {
      for (const socket of this.sockets.keys()) socket.destroy();
      for (const socket of this.rawSockets) socket.destroy();
    }, timeout);
    await Promise.all([stopped, ...[...this.sockets.keys()].map(socketClosed)]);
    clearTimeout(timer);
    this.logger.info('tcp transport closed');
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!this.options.tls && !this.admit(socket)) return;
    this.counters.accepted++;
    const connection = attachTcpSocket(socket, {
      ...this.options,
      logger: this.logger,
      encoder: this.encoder,
      counters: this.counters,
    });
    this.sockets.set(socket, connection);
    socket.once('close', () => this.sockets.delete(socket));
    const idleProbeMs = this.options.idleProbeMs ?? 0;
    if (idleProbeMs > 0) watchIdle(connection, this.options.engine, idleProbeMs, this.options.report);
    this.logger.debug({ channel: connection.id }, 'tcp peer connected');
  }

  /** Counts `socket` at the connection gate, or destroys it (false). */
  private admit(socket: net.Socket): boolean {
    const gate = this.options.gate;
    if (!gate) return true;
    const address = socket.remoteAddress ?? '?';
    if (!gate.admit(address)) {
      socket.destroy();
      return false;
    }
    socket.once('close', () => gate.leave(address));
    return true;
  }
}

function socketClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

export function createTcpTransport(options: TcpTransportOptions): TcpTransport {
  return new TcpTransport(options);
}

/**
 * Opens an outbound TCP connection and attaches it to the engine as a channel.
 * Rejects with PASARELA_UNREACHABLE (status 502) when it cannot connect in time.
 */
export function dialTcp(host: string, port: number, options: DialTcpOptions): Promise<Connection> {
  const logger = options.logger ?? silentLogger();
  return new Promise((resolve, reject) => {
    const trust = options.tls;
    const socket = trust ? tls.connect({ host, port, ...clientTlsOptions(trust, host) }) : net.connect({ host, port });
    let settled = false;
    const fail = (reason: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      logger.debug({ host, port, reason }, 'tcp dial failed');
      reject(errors.unreachable(`${host}:${port}`, reason, { cause }));
    };
    const onError = (error: Error): void => fail(error.message, error);
    const onAbort = (): void => fail('aborted', options.signal?.reason);
    const timer = setTimeout(() => fail('timed out'), options.connectTimeoutMs ?? 10_000);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
    };
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once(trust ? 'secureConnect' : 'connect', () => {
      if (settled) return;
      const refused = trust ? verifyPeer((socket as tls.TLSSocket).getPeerX509Certificate(), trust) : undefined;
      if (refused) {
        fail(refused);
        return;
      }
      settled = true;
      cleanup();
      const connection = attachTcpSocket(socket, options);
      logger.debug({ channel: connection.id }, 'tcp dialed');
      resolve(connection);
    });
  });
}

/**
 * JSTP over WebSocket (`ws`): a server on an http.Server it is given or creates
 * (the same port serves HTTP), and `dialWs` for outbound connections.
 * A text message is one JSON dispatch (node-jstp's trailing `\n` is fine for
 * JSON.parse); a binary message is one CBOR dispatch. Upgrades are accepted on any
 * path, `/` included, because node-jstp connects to the root.
 */
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Engine } from '../jstp/engine.js';
import { ErrorCode, errors } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { DispatchCodec } from '../jstp/codec/codec.js';
import { clientTlsOptions, verifyPeer, type ClientTls, type ServerTls } from '../security/tls.js';
import { Connection, DispatchEncoder, type Encoding, type Wire } from './connection.js';
import type { ConnectionGate } from './connection-gate.js';
import type { LimitReporter } from './limit-reporter.js';
import { PendingInput, type InputBudget } from './pending-input.js';
import { ServerTransport } from './server.js';
import type { TransportAddress, TransportStats } from './transport.js';

/** Default largest message: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Default heartbeat: a ping every 30 s; a peer that has not answered the previous one is dropped. */
export const DEFAULT_HEARTBEAT_MS = 30_000;

export type RequestHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface WsConnectionOptions {
  engine: Engine;
  /** Where inputs over a limit are reported (counted and logged by the gateway). */
  report?: LimitReporter;
  logger?: Logger;
  /** Largest message accepted (default 1 MiB); a larger one closes the connection. */
  maxPayload?: number;
  /** Ping interval; 0 disables the heartbeat (default 30 s). */
  heartbeatMs?: number;
  /** Bytes that may wait for a slow peer before it is dropped (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Enables binary (CBOR) messages. */
  cbor?: DispatchCodec;
}

export interface WsTransportOptions extends WsConnectionOptions {
  /** Attach to this server instead of creating one; its owner then listens and closes it. */
  server?: http.Server;
  /** HTTP requests on a server created here; 404 without one. */
  onRequest?: RequestHandler;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port, reported by `listen()`. */
  port?: number;
  /** How long `close()` waits for peers to answer the close before terminating (default 2 s). */
  closeTimeoutMs?: number;
  /** Serve HTTPS and wss with this certificate and key (on a server created here). */
  tls?: ServerTls;
  /** Connections in total and per address, shared with the other server transports. */
  gate?: ConnectionGate;
  /** How long a message the peer started may take to arrive whole; default no limit. */
  lineTimeoutMs?: number;
  /** The total of unfinished input, shared with other connections; default none. */
  inputBudget?: InputBudget;
}

export interface DialWsOptions extends WsConnectionOptions {
  /** Give up the handshake after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** What this side writes; the peer answers in kind (default json). */
  encoding?: Encoding;
  /** For wss://: what to trust (the system's CAs when empty). */
  tls?: ClientTls;
  /** Tell a CBOR peer at once that it may alias toward this side (a client does). */
  offerAliases?: boolean;
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A WebSocket as a Connection's wire: one message per dispatch. */
class WsWire implements Wire {
  constructor(private readonly ws: WebSocket) {}
  buffered(): number {
    return this.ws.bufferedAmount;
  }
  writeText(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }
  writeBinary(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes, { binary: true });
  }
  end(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
  destroy(): void {
    this.ws.terminate();
  }
}

/**
 * Wraps an open WebSocket as a Connection attached to the engine, with its
 * heartbeat. Detaches from the engine when it closes.
 */
export function attachWebSocket(
  ws: WebSocket,
  id: string,
  options: WsConnectionOptions & { encoding?: Encoding; offerAliases?: boolean; encoder?: DispatchEncoder; counters?: TransportStats; address?: string },
): Connection {
  const logger = options.logger ?? silentLogger();
  const connection = new Connection(new WsWire(ws), 'ws', id, {
    engine: options.engine,
    logger,
    maxBufferedBytes: options.maxBufferedBytes,
    encoder: options.encoder ?? new DispatchEncoder(options.cbor),
    encoding: options.encoding,
    offerAliases: options.offerAliases,
    counters: options.counters,
    ...(options.address === undefined ? {} : { address: options.address }),
  });
  const canCbor = connection.canCbor;
  let alive = true;

  ws.on('message', (data: RawData, isBinary: boolean) => {
    alive = true;
    if (isBinary) {
      // Answer in the peer's encoding, when this side can speak it.
      if (canCbor) connection.encoding = 'cbor';
      connection.receiveCbor(rawToBuffer(data));
    } else {
      connection.encoding = 'json';
      connection.receiveJson(rawToBuffer(data).toString('utf8'));
    }
  });
  ws.on('pong', () => {
    alive = true;
  });
  ws.on('error', (error: Error & { code?: string }) => {
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      options.report?.exceeded('maxDispatchBytes', connection.address, { max: options.maxPayload ?? DEFAULT_MAX_PAYLOAD });
      connection.frameTooLarge(`message larger than ${options.maxPayload ?? DEFAULT_MAX_PAYLOAD} bytes`);
    } else {
      logger.debug({ channel: id, err: error.message }, 'websocket error');
    }
  });

  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const heartbeat = heartbeatMs > 0
    ? setInterval(() => {
        if (!alive) {
          connection.abort(ErrorCode.PeerTimeout, `no pong within ${heartbeatMs} ms`);
          return;
        }
        alive = false;
        try {
          ws.ping();
        } catch {
          // Not open any more: the close event follows.
        }
      }, heartbeatMs)
    : undefined;
  heartbeat?.unref();

  ws.on('close', (code: number, reason: Buffer) => {
    if (heartbeat) clearInterval(heartbeat);
    connection.wireClosed(`peer closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`);
  });
  return connection;
}

function notFound(_request: http.IncomingMessage, response: http.ServerResponse): void {
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('Not Found\n');
}

export class WsTransport extends ServerTransport<WebSocket> {
  readonly label: string;
  /** The HTTP server the WebSocket endpoint shares its port with. */
  readonly server: http.Server;
  private readonly options: WsTransportOptions;
  private readonly owned: boolean;
  private readonly wss: WebSocketServer;
  private readonly encoder: DispatchEncoder;
  private requestHandler: RequestHandler | undefined;
  private readonly onUpgrade = (request: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void => {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const gate = this.options.gate;
    const address = request.socket.remoteAddress ?? '?';
    if (gate && !gate.admit(address)) {
      // Refused before the upgrade, so the peer reads why.
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    if (gate) socket.once('close', () => gate.leave(address));
    // Any path: node-jstp connects to `/`, browsers to whatever the page says.
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request));
  };

  constructor(options: WsTransportOptions) {
    super(options.logger ?? silentLogger());
    this.options = options;
    this.encoder = new DispatchEncoder(options.cbor);
    this.requestHandler = options.onRequest;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD });
    this.owned = options.server === undefined;
    this.label = options.tls && this.owned ? 'wss' : 'ws';
    const handle = (request: http.IncomingMessage, response: http.ServerResponse): void => (this.requestHandler ?? notFound)(request, response);
    this.server = options.server ?? (options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handle) : http.createServer(handle));
    this.server.on('upgrade', this.onUpgrade);
  }

  /** Sets the HTTP handler of a server created here (the dashboard); undefined serves 404. */
  setRequestHandler(handler: RequestHandler | undefined): void {
    this.requestHandler = handler;
  }

  listen(): Promise<TransportAddress> {
    const host = this.options.host ?? '127.0.0.1';
    if (this.server.listening) {
      const address = this.server.address() as AddressInfo;
      this.bound = { label: this.label, host: address.address, port: address.port };
      return Promise.resolve(this.bound);
    }
    return this.listenOn(this.server, host, this.options.port ?? 0);
  }

  protected async shutdown(): Promise<void> {
    this.server.off('upgrade', this.onUpgrade);
    const sockets = [...this.sockets.keys()];
    const closedAll = Promise.all(sockets.map(wsClosed));
    for (const connection of this.sockets.values()) connection.close('server closing');
    const timer = setTimeout(() => {
      for (const ws of this.sockets.keys()) ws.terminate();
    }, this.options.closeTimeoutMs ?? 2000);
    await closedAll;
    clearTimeout(timer);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    if (this.owned && this.server.listening) {
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    }
    this.logger.info('ws transport closed');
  }

  private accept(ws: WebSocket, request: http.IncomingMessage): void {
    this.counters.accepted++;
    const id = `ws ${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
    const connection = attachWebSocket(ws, id, {
      ...this.options,
      address: request.socket.remoteAddress ?? '?',
      logger: this.logger,
      encoder: this.encoder,
      counters: this.counters,
    });
    this.sockets.set(ws, connection);
    ws.once('close', () => this.sockets.delete(ws));
    this.trackPending(ws, request.socket, connection);
    this.logger.debug({ channel: id, path: request.url }, 'ws peer connected');
  }

  /**
   * A message that never ends, or many of them, held by the ws library: bounded by
   * the bytes read from the socket since the last whole message (frame headers
   * included, so a little over the message itself).
   */
  private trackPending(ws: WebSocket, socket: import('node:stream').Duplex, connection: Connection): void {
    const { inputBudget, lineTimeoutMs, report } = this.options;
    if (!inputBudget && !lineTimeoutMs) return;
    const pending = new PendingInput({
      budget: inputBudget,
      timeoutMs: lineTimeoutMs,
      onFault: (limit, reason) => {
        report?.exceeded(limit, connection.address, { reason });
        connection.abort(ErrorCode.LimitExceeded, reason);
      },
    });
    socket.on('data', (chunk: Buffer) => pending.update(pending.bytes + chunk.length));
    ws.on('message', () => pending.update(0));
    ws.once('close', () => pending.close());
  }
}

function wsClosed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

export function createWsTransport(options: WsTransportOptions): WsTransport {
  return new WsTransport(options);
}

/**
 * Opens an outbound WebSocket (Node, `ws`) and attaches it to the engine as a
 * channel. Rejects with PASARELA_UNREACHABLE (status 502) when the handshake fails
 * or times out.
 */
export function dialWs(url: string, options: DialWsOptions): Promise<Connection> {
  const logger = options.logger ?? silentLogger();
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('wss:');
    const ws = new WebSocket(url, {
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      handshakeTimeout: options.connectTimeoutMs ?? 10_000,
      ...(secure ? clientTlsOptions(options.tls, new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')) : {}),
    });
    let refused: string | undefined;
    if (secure && options.tls?.pin !== undefined) {
      // Checked on the TLS socket, before the WebSocket opens.
      ws.once('upgrade', (response: http.IncomingMessage) => {
        refused = verifyPeer((response.socket as tls.TLSSocket).getPeerX509Certificate(), options.tls);
        if (refused) ws.terminate();
      });
    }
    // Kept until open: a failed handshake may emit more than one error.
    const onError = (error: Error): void => {
      logger.debug({ url, err: error.message }, 'ws dial failed');
      // A refused pin is the reason, not the close it causes.
      reject(refused ? errors.unreachable(url, refused) : errors.unreachable(url, error.message, { cause: error }));
    };
    ws.on('error', onError);
    ws.once('close', () => {
      if (refused) reject(errors.unreachable(url, refused));
    });
    ws.once('open', () => {
      ws.off('error', onError);
      const connection = attachWebSocket(ws, `ws ${url}`, options);
      logger.debug({ channel: connection.id }, 'ws dialed');
      resolve(connection);
    });
  });
}

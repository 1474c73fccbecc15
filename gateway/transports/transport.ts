/**
 * The one interface every transport (TCP, WebSocket, ...) implements. Types only:
 * implementations live one per file next to this one, and the gateway hands them
 * an engine rather than the engine choosing a transport.
 */

/** Where a transport listens once `listen()` resolved. */
export interface TransportAddress {
  /** Wire label as used in JSTP `host` hops: `tcp`, `ws`. */
  readonly label: string;
  readonly host: string;
  /** The bound port: the real one when 0 was asked for. */
  readonly port: number;
}

/** Counters since the transport was created; every field only grows except `connections`. */
export interface TransportStats {
  /** Connections open right now. */
  connections: number;
  /** Connections accepted since creation. */
  accepted: number;
  /** Dispatches parsed and handed to the engine. */
  received: number;
  /** Messages that were not JSON (or CBOR) at all: dropped, the connection stays open. */
  invalid: number;
  /** Dispatches written to peers. */
  sent: number;
  /** Connections closed because the peer did not read fast enough (PASARELA_CHANNEL_OVERFLOW). */
  overflows: number;
  /** Connections closed because a line or message exceeded the size limit (PASARELA_FRAME_TOO_LARGE). */
  oversize: number;
}

/**
 * A server side transport: accepts peers and attaches each one to the engine as a
 * channel (see `Connection`).
 *
 * Contract:
 * - `listen()` binds and resolves with the address; port 0 picks a free port and the
 *   resolved address carries the real one. It rejects with the socket error
 *   (e.g. EADDRINUSE) and may be called once.
 * - Every accepted peer is a channel of the engine until it disconnects; then the
 *   engine is told exactly once (`Engine.detach`), releasing its subscriptions.
 * - `close()` stops accepting, closes every open connection (flushing what was
 *   queued, destroying a peer that does not close in time), and resolves once all
 *   sockets are closed. It is idempotent and never rejects.
 * - `stats()` is cheap and synchronous.
 * - A transport never writes to the console; it logs through the injected logger.
 */
export interface Transport {
  /** Wire label: `tcp`, `ws`. */
  readonly label: string;
  listen(): Promise<TransportAddress>;
  /** The bound address, once listening. */
  address(): TransportAddress | undefined;
  close(): Promise<void>;
  stats(): TransportStats;
}

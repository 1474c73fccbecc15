/**
 * How an uplink reaches its far end, by URL scheme: `tcp://host:port`,
 * `ws://host:port/path`, `wss://...`. Pluggable: the fleet issue adds `nats:` with a
 * dialer of its own (`uplinkPlugins(config, { dialers })`).
 */
import { sinkAsEngine, type ChannelSink } from '../channel-sink.js';
import type { Channel } from '../jstp/channel.js';
import type { Logger } from '../jstp/logger.js';
import { dialTcp } from '../transports/tcp.js';
import { dialWs } from '../transports/ws.js';

/** A connected link: a channel of the gateway's engine that can tell when it closed. */
export interface UplinkLink extends Channel {
  readonly isClosed: boolean;
  /** Bytes written and not yet taken by the far end's socket: the uplink waits above a mark. */
  readonly bufferedBytes: number;
  /** Closes gracefully (queued output is flushed first). */
  close(reason?: string): void;
  /** Called once when the link closed, at once if it has; returns the function that stops it. */
  onClose(listener: (info: { readonly reason: string }) => void): () => void;
}

export interface UplinkDialOptions {
  /** Where the link hands what the far end sends, and tells that it closed. */
  readonly sink: ChannelSink;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
}

/** Opens a link; rejects (with PASARELA_UNREACHABLE, usually) when it cannot. */
export type UplinkDialer = (url: URL, options: UplinkDialOptions) => Promise<UplinkLink>;

function dialOptions(options: UplinkDialOptions) {
  return { engine: sinkAsEngine(options.sink), logger: options.logger, connectTimeoutMs: options.connectTimeoutMs };
}

export const BUILT_IN_DIALERS: Readonly<Record<string, UplinkDialer>> = {
  // URL keeps the brackets of an IPv6 host; net.connect wants the bare address.
  tcp: (url, options) => dialTcp(url.hostname.replace(/^\[(.*)\]$/, '$1'), Number(url.port), dialOptions(options)),
  ws: (url, options) => dialWs(url.href, dialOptions(options)),
  wss: (url, options) => dialWs(url.href, dialOptions(options)),
};

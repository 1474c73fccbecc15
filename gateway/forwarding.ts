/**
 * The automatic gateway: sends dispatches that carry a `host` to their next hop.
 *
 * A ForwardingPool is the engine's Forwarder: it picks (opening if need be) the
 * outbound connection for a hop, one per `address:port:label`, reused by every
 * dispatch to that hop; the engine sends the dispatch on it. Outbound connections
 * are channels of the same engine: answers (and anything else the hop sends) come
 * back through `engine.receive` and are routed by transaction id. Forwarding is a
 * security hazard, so it is off unless enabled, and can be limited to listed hops.
 */
import { sinkAsEngine, type ChannelSink } from './channel-sink.js';
import type { Channel } from './jstp/channel.js';
import type { Dispatch, Hop } from './jstp/dispatch.js';
import type { Engine, Forwarder } from './jstp/engine.js';
import { errors, PasarelaError } from './jstp/errors.js';
import { silentLogger, type Logger } from './jstp/logger.js';
import type { DispatchCodec } from './jstp/codec/codec.js';
import type { Connection } from './transports/connection.js';
import { dialTcp } from './transports/tcp.js';
import { dialWs } from './transports/ws.js';

/** The `jstp.forwarding` config section. */
export interface ForwardingConfig {
  /** Off by default: every dispatch with a `host` is answered 506. */
  enabled: boolean;
  /** `host:port` or `host:*` entries; empty with `enabled` means any hop. */
  allow: string[];
}

/** What a hop dialer gets: pass `engine` on to the transport as its engine. */
export interface HopDialOptions {
  engine: Engine;
  logger: Logger;
  connectTimeoutMs: number;
  cbor?: DispatchCodec;
}

/** Opens a connection to one hop; rejects with a PasarelaError (status 502) when it can't. */
export type HopDialer = (hop: Hop, options: HopDialOptions) => Promise<Connection>;

export interface ForwardingPoolOptions extends Partial<ForwardingConfig> {
  /** The engine whose channels outbound connections become; or call `attach()` later. */
  engine?: Engine;
  logger?: Logger;
  /** How long opening a connection to a hop may take before 502 (default 5 s). */
  connectTimeoutMs?: number;
  /** Connections with no traffic and nothing in flight for this long are closed (default 60 s). */
  idleTimeoutMs?: number;
  /** Lets outbound connections speak compact CBOR when a peer does. */
  cbor?: DispatchCodec;
  /** Extra or replacement dialers by label (e.g. `mqtt`); tcp, ws and wss are built in. */
  dialers?: Record<string, HopDialer>;
}

export interface ForwardingStats {
  /** Open (or opening) outbound connections, as `address:port:label`. */
  connections: string[];
  forwarded: number;
  refused: number;
  failed: number;
}

interface AllowRule {
  host: string;
  /** undefined = any port. */
  port: number | undefined;
}

interface PoolEntry {
  readonly key: string;
  opening: Promise<Connection> | undefined;
  connection: Connection | undefined;
  lastUsed: number;
}

/** A host as written in a URL. */
function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function normalizeHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

const BUILT_IN_DIALERS: Record<string, HopDialer> = {
  tcp: ([address, port], options) => dialTcp(address, port, options),
  // node-jstp connects to the root path, and so do we: a gateway serves any path.
  ws: ([address, port], options) => dialWs(`ws://${urlHost(address)}:${port}/`, options),
  wss: ([address, port], options) => dialWs(`wss://${urlHost(address)}:${port}/`, options),
};

/** Parses `host:port`, `host:*`, `[v6]:port`; throws a config error naming the entry. */
export function parseAllowEntry(entry: string): AllowRule {
  const colon = entry.lastIndexOf(':');
  const host = colon > 0 ? entry.slice(0, colon) : '';
  const port = colon > 0 ? entry.slice(colon + 1) : '';
  if (host.length === 0 || (port !== '*' && !/^\d{1,5}$/.test(port)) || Number(port) > 65535) {
    throw errors.config(`forwarding.allow entry ${JSON.stringify(entry)} must be host:port or host:*`);
  }
  return { host: normalizeHost(host), port: port === '*' ? undefined : Number(port) };
}

export class ForwardingPool {
  readonly enabled: boolean;
  /** The engine's Forwarder (bound: pass it as is). */
  readonly forwarder: Forwarder;
  private engine: Engine | undefined;
  private readonly logger: Logger;
  private readonly rules: AllowRule[];
  private readonly dialers: Record<string, HopDialer>;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly cbor: DispatchCodec | undefined;
  private readonly entries = new Map<string, PoolEntry>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private installed = false;
  private closed = false;
  private forwarded = 0;
  private refused = 0;
  private failed = 0;

  constructor(options: ForwardingPoolOptions) {
    this.logger = options.logger ?? silentLogger();
    this.enabled = options.enabled ?? false;
    this.rules = (options.allow ?? []).map(parseAllowEntry);
    this.dialers = { ...BUILT_IN_DIALERS, ...options.dialers };
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.cbor = options.cbor;
    this.forwarder = (dispatch, hop, from) => this.pick(dispatch, hop, from);
    this.engine = options.engine;
  }

  /** Makes this pool its engine's forwarder (until `close()`). */
  install(): this {
    if (!this.engine) throw errors.config('forwarding pool has no engine: pass one or call attach()');
    this.engine.setForwarder(this.forwarder);
    this.installed = true;
    return this;
  }

  /**
   * Binds the pool to its engine: outbound connections become its channels, and the
   * pool becomes its forwarder (until `close()`).
   */
  attach(engine: Engine): this {
    if (this.engine && this.engine !== engine) throw errors.config('forwarding pool already attached to another engine');
    this.engine = engine;
    return this.install();
  }

  /** Whether a hop passes the switch and the allow-list (its label is not checked). */
  allows(hop: Hop): boolean {
    if (!this.enabled) return false;
    if (this.rules.length === 0) return true;
    const host = normalizeHost(hop[0]);
    return this.rules.some((rule) => (rule.host === '*' || rule.host === host) && (rule.port === undefined || rule.port === hop[1]));
  }

  stats(): ForwardingStats {
    return { connections: [...this.entries.keys()], forwarded: this.forwarded, refused: this.refused, failed: this.failed };
  }

  /** Closes every outbound connection; later forwards fail with 502. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.installed) this.engine?.setForwarder(undefined);
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map(async (entry) => {
      const connection = entry.connection ?? (await entry.opening?.catch(() => undefined));
      if (!connection) return;
      connection.close('forwarding pool closing');
      await connection.closed;
    }));
  }

  /**
   * The connection toward a hop: the open one (returned as it is, so a busy hop costs
   * no promise), or one being opened. The engine then sends the dispatch on it.
   */
  private pick(dispatch: Dispatch, hop: Hop, from: Channel | undefined): Channel | Promise<Channel> {
    if (!this.enabled) {
      this.refused++;
      throw errors.forwarding('forwarding is disabled');
    }
    const label = hop[2].toLowerCase();
    const dialer = this.dialers[label];
    if (!dialer) {
      this.refused++;
      throw errors.unknownTransport(JSON.stringify(hop[2]));
    }
    if (!this.allows(hop)) {
      this.refused++;
      this.logger.warn({ hop, from: from?.id }, 'forwarding refused: hop not allowed');
      throw errors.forwarding(`forwarding to ${hop[0]}:${hop[1]} is not allowed`);
    }
    const engine = this.engine;
    if (this.closed || !engine) throw errors.channelClosed(this.closed ? 'forwarding pool closed' : 'forwarding pool not attached');
    const entry = this.entry(`${hop[0]}:${hop[1]}:${label}`, engine);
    if (entry.connection) return this.use(entry, entry.connection, dispatch, hop, from);
    return (entry.opening ??= this.open(entry, hop, dialer, engine)).then(
      (connection) => this.use(entry, connection, dispatch, hop, from),
      (error: unknown) => {
        this.failed++;
        throw error;
      },
    );
  }

  private use(entry: PoolEntry, connection: Connection, dispatch: Dispatch, hop: Hop, from: Channel | undefined): Connection {
    if (connection.isClosed) {
      this.failed++;
      throw errors.channelClosed(`connection to ${entry.key} closed`);
    }
    entry.lastUsed = Date.now();
    this.forwarded++;
    this.logger.debug({ hop, method: dispatch.method, from: from?.id }, 'forwarding');
    // The engine then takes answers only from this connection, and 502s what waits on it if it drops.
    return connection;
  }

  private entry(key: string, engine: Engine): PoolEntry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = {
        key,
        opening: undefined,
        connection: undefined,
        lastUsed: Date.now(),
      };
      this.entries.set(key, entry);
      this.startSweeper();
    }
    return entry;
  }

  private async open(entry: PoolEntry, hop: Hop, dialer: HopDialer, engine: Engine): Promise<Connection> {
    const sink: ChannelSink = {
      receive: (raw, channel, text) => {
        entry.lastUsed = Date.now();
        engine.receive(raw, channel, text);
      },
      refuse: (raw, channel, reason) => engine.refuse(raw, channel, reason),
      detach: (channel) => {
        const failed = engine.pendingOn(channel);
        engine.detach(channel);
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
        this.logger.debug({ hop: entry.key, failed }, 'outbound connection closed');
      },
    };
    const options: HopDialOptions = {
      engine: sinkAsEngine(sink),
      logger: this.logger,
      connectTimeoutMs: this.connectTimeoutMs,
      ...(this.cbor ? { cbor: this.cbor } : {}),
    };
    let connection: Connection;
    try {
      connection = await dialer(hop, options);
    } catch (error) {
      if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      this.logger.info({ hop: entry.key, err: error }, 'hop unreachable');
      if (error instanceof PasarelaError && error.status !== undefined) throw error;
      throw errors.unreachable(entry.key, error instanceof Error ? error.message : String(error), { cause: error });
    }
    entry.opening = undefined;
    if (this.closed || this.entries.get(entry.key) !== entry) {
      connection.close('forwarding pool closed');
      throw errors.channelClosed('forwarding pool closed');
    }
    entry.connection = connection;
    entry.lastUsed = Date.now();
    this.logger.debug({ hop: entry.key, channel: connection.id }, 'outbound connection open');
    return connection;
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(this.idleTimeoutMs / 2)));
    this.sweeper.unref?.();
  }

  private sweep(): void {
    const now = Date.now();
    for (const entry of this.entries.values()) {
      if (!entry.connection || this.engine!.pendingOn(entry.connection) > 0 || now - entry.lastUsed < this.idleTimeoutMs) continue;
      this.entries.delete(entry.key);
      this.logger.debug({ hop: entry.key }, 'idle outbound connection closed');
      entry.connection.close('idle');
    }
    if (this.entries.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/**
 * The gateway's one connection to the NATS cluster, with the settings a gateway
 * needs rather than the client's defaults: it never stops reconnecting, spreads its
 * reconnects with jitter, and notices a dead server within 15 s (a ping every 5 s,
 * 3 missed). It connects in the background: a gateway starts and serves its own
 * devices while the cluster is unreachable. Subscriptions made before the first
 * connection are made once it exists (and the NATS client renews them on every
 * reconnection).
 */
import type { Msg, MsgHdrs, NatsConnection, Status, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../jstp/logger.js';
import type { FleetConfig } from './config.js';

/** What the link calls for each message of a subscription. */
export type MessageHandler = (message: Msg) => void;

interface Wanted {
  readonly subject: string;
  readonly handler: MessageHandler;
  readonly queue: string | undefined;
  live: Subscription | undefined;
  cancelled: boolean;
}

export interface PublishOptions {
  reply?: string;
  headers?: Record<string, string>;
}

/** The link's state as GET ["fleet"] and the dashboard show it. */
export interface LinkState {
  connected: boolean;
  server: string | undefined;
  reconnects: number;
  /** Messages dropped because the link was down and the client had nowhere to buffer them. */
  dropped: number;
}

export class NatsLink {
  private connection: NatsConnection | undefined;
  private readonly wanted = new Set<Wanted>();
  private readonly listeners = new Set<(connected: boolean) => void>();
  private closing = false;
  private up = false;
  private reconnects = 0;
  private dropped = 0;
  private headersOf: (() => MsgHdrs) | undefined;
  private readonly opened: Promise<void>;

  constructor(private readonly config: FleetConfig, private readonly logger: Logger) {
    this.opened = this.open();
  }

  get state(): LinkState {
    return { connected: this.up, server: this.up ? this.connection?.getServer() : undefined, reconnects: this.reconnects, dropped: this.dropped };
  }

  get connected(): boolean {
    return this.up;
  }

  /** Called with true on every (re)connection, false on every loss. */
  onChange(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The connection, once there is one (for the key-value store). */
  async whenConnected(): Promise<NatsConnection> {
    await this.opened;
    if (!this.connection) throw new Error('the NATS link is closed');
    return this.connection;
  }

  subscribe(subject: string, handler: MessageHandler, queue?: string): () => void {
    const entry: Wanted = { subject, handler, queue, live: undefined, cancelled: false };
    this.wanted.add(entry);
    if (this.connection) this.apply(this.connection, entry);
    return () => {
      entry.cancelled = true;
      this.wanted.delete(entry);
      entry.live?.unsubscribe();
    };
  }

  /** Publishes now, or drops (and counts) when there is no connection yet. */
  publish(subject: string, data: Uint8Array | string, options: PublishOptions = {}): boolean {
    const connection = this.connection;
    if (!connection || connection.isClosed()) {
      this.dropped++;
      return false;
    }
    let headers: MsgHdrs | undefined;
    if (options.headers && this.headersOf) {
      headers = this.headersOf();
      for (const [key, value] of Object.entries(options.headers)) headers.set(key, value);
    }
    try {
      connection.publish(subject, data, { ...(options.reply ? { reply: options.reply } : {}), ...(headers ? { headers } : {}) });
      return true;
    } catch (error) {
      this.dropped++;
      this.logger.warn({ subject, err: error }, 'NATS publish failed');
      return false;
    }
  }

  /** Waits until the server has seen what was published (a ping round trip). */
  async flush(): Promise<void> {
    await this.connection?.flush();
  }

  async close(): Promise<void> {
    this.closing = true;
    const connection = this.connection;
    if (connection && !connection.isClosed()) {
      try {
        await connection.drain();
      } catch {
        await connection.close().catch(() => undefined);
      }
    }
    // A connection still being made is abandoned: close it as soon as it arrives.
    await this.opened.catch(() => undefined);
    if (this.connection && !this.connection.isClosed()) await this.connection.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const nats = await import('@nats-io/transport-node');
    this.headersOf = () => nats.headers();
    const { servers, user, pass, token, discover } = this.config.nats;
    for (;;) {
      if (this.closing) return;
      try {
        this.connection = await nats.connect({
          servers,
          name: `pasarela ${this.config.name}`,
          ...(user === undefined ? {} : { user }),
          ...(pass === undefined ? {} : { pass }),
          ...(token === undefined ? {} : { token }),
          // A gateway never gives up on its cluster.
          maxReconnectAttempts: -1,
          // nats.js waits this long after a loss before trying any server: short, so a
          // dead node costs well under 2 s; the jitter spreads a whole fleet's retries.
          reconnectTimeWait: 250,
          reconnectJitter: 250,
          // A dead server is noticed within 15 s even when its sockets stay half-open.
          pingInterval: 5_000,
          maxPingOut: 3,
          timeout: 5_000,
          // Keep trying the first connection too, for as long as it takes.
          waitOnFirstConnect: true,
          ignoreClusterUpdates: !discover,
        });
        break;
      } catch (error) {
        this.logger.warn({ servers, err: error }, 'NATS cluster unreachable; retrying');
        await new Promise((resolve) => setTimeout(resolve, 1_000 + Math.random() * 500));
      }
    }
    const connection = this.connection;
    if (this.closing) {
      await connection.close().catch(() => undefined);
      return;
    }
    this.logger.info({ server: connection.getServer() }, 'joined the NATS cluster');
    for (const entry of this.wanted) this.apply(connection, entry);
    this.changed(true);
    void this.watch(connection);
    void connection.closed().then((error) => {
      if (error && !this.closing) this.logger.error({ err: error }, 'NATS connection closed');
      this.changed(false);
    });
  }

  private apply(connection: NatsConnection, entry: Wanted): void {
    if (entry.cancelled || entry.live) return;
    entry.live = connection.subscribe(entry.subject, {
      ...(entry.queue ? { queue: entry.queue } : {}),
      callback: (error, message) => {
        if (error) {
          this.logger.warn({ subject: entry.subject, err: error }, 'NATS subscription error');
          return;
        }
        try {
          entry.handler(message);
        } catch (failure) {
          this.logger.error({ subject: message.subject, err: failure }, 'NATS message handler failed');
        }
      },
    });
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status() as AsyncIterable<Status>) {
      switch (status.type) {
        case 'disconnect':
          this.logger.warn({ server: status.server }, 'NATS server lost');
          this.changed(false);
          break;
        case 'reconnect':
          this.reconnects++;
          this.logger.info({ server: status.server }, 'NATS reconnected');
          this.changed(true);
          break;
        case 'error':
          this.logger.warn({ err: status.error }, 'NATS server error');
          break;
        case 'staleConnection':
          this.logger.warn('NATS server stopped answering pings');
          break;
        default:
          break;
      }
    }
  }

  private changed(connected: boolean): void {
    if (this.up === connected) return;
    this.up = connected;
    for (const listener of this.listeners) {
      try {
        listener(connected);
      } catch (error) {
        this.logger.error({ err: error }, 'NATS link listener failed');
      }
    }
  }
}

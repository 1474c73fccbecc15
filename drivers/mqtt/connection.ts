/**
 * One MQTT connection that stays up: reconnects with the shared Backoff (mqtt.js
 * retries at a fixed period, so its own reconnect is off), subscribes again after
 * every connect, and refuses publishes at once while down instead of queueing them.
 * MQTT 3.1.1 (protocolVersion 4), which both aedes and mosquitto accept.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import './packet-numbers.js';
import { Backoff, type BackoffOptions } from '../../gateway/jstp/backoff.js';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import type { Logger } from '../../gateway/jstp/logger.js';

export interface ConnectionOptions {
  url: string;
  logger: Logger;
  clientId?: string;
  /** Delays between connection attempts (default 200 ms doubling to 10 s). */
  reconnect?: BackoffOptions;
  /** How long a connect attempt may take (default 5 s). */
  connectTimeoutMs?: number;
  /** Seconds between pings (default 30). */
  keepalive?: number;
  /** Extra mqtt.js options (credentials, TLS). */
  client?: Partial<IClientOptions>;
}

interface ConnectionEvents {
  up: [];
  down: [];
  message: [topic: string, payload: Buffer];
}

export function linkDown(message: string): PasarelaError {
  return errors.deviceOffline(message);
}

export class MqttConnection extends EventEmitter<ConnectionEvents> {
  private client: MqttClient | undefined;
  private readonly filters = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly backoff: Backoff;
  private stopped = false;
  private wasUp = false;
  /** Successful connects after the first. */
  reconnects = 0;

  constructor(private readonly options: ConnectionOptions) {
    super();
    this.backoff = new Backoff({ initialMs: 200, maxMs: 10_000, ...options.reconnect }, { where: 'mqtt reconnect' });
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Starts connecting; `up` is emitted once connected (and again after each reconnect). */
  start(): void {
    if (this.client || this.stopped) return;
    const client = mqtt.connect(this.options.url, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      connectTimeout: this.options.connectTimeoutMs ?? 5_000,
      keepalive: this.options.keepalive ?? 30,
      clientId: this.options.clientId ?? `pasarela-${globalThis.crypto.randomUUID().slice(0, 8)}`,
      ...this.options.client,
    });
    this.client = client;
    client.on('connect', () => {
      // Commands and acks are small: send them at once rather than batch them (Nagle).
      (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
      if (this.wasUp) this.reconnects++;
      this.backoff.succeeded();
      this.wasUp = true;
      this.options.logger.info({ url: this.options.url }, 'mqtt connected');
      this.subscribeAll();
      this.emit('up');
    });
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
    // Without a listener mqtt.js would throw; the close that follows schedules the retry.
    client.on('error', (error) => this.options.logger.debug({ err: error, url: this.options.url }, 'mqtt error'));
    client.on('close', () => {
      if (this.stopped) return;
      this.emit('down');
      this.scheduleReconnect();
    });
  }

  /** Adds topic filters; subscribed now if connected, and after every reconnect. */
  subscribe(filters: readonly string[]): void {
    const fresh = filters.filter((filter) => !this.filters.has(filter));
    for (const filter of fresh) this.filters.add(filter);
    if (fresh.length > 0 && this.connected) this.sendSubscribe(fresh);
  }

  /** Publishes, or rejects at once with 502 while the broker is unreachable. */
  publish(topic: string, payload: string | Buffer, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const client = this.client;
    if (!client || !client.connected) return Promise.reject(linkDown(`MQTT broker ${this.options.url} is unreachable`));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: options.qos ?? 0, retain: options.retain ?? false }, (error) => {
        if (error) reject(linkDown(`publish to ${topic} failed: ${error.message}`));
        else resolve();
      });
    });
  }

  /** Disconnects for good; resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    client.removeAllListeners();
    // mqtt.js may still report an error from the socket it just destroyed.
    client.on('error', () => {});
  }

  private scheduleReconnect(): void {
    if (this.timer || this.stopped) return;
    // Jittered, so many gateways do not return to a restarted broker in lockstep.
    const delay = this.backoff.next();
    this.options.logger.debug({ url: this.options.url, delay, attempt: this.backoff.attempts }, 'mqtt reconnect scheduled');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.client?.reconnect();
    }, delay);
  }

  private subscribeAll(): void {
    if (this.filters.size > 0) this.sendSubscribe([...this.filters]);
  }

  private sendSubscribe(filters: string[]): void {
    this.client?.subscribe(filters, { qos: 0 }, (error) => {
      if (error) this.options.logger.warn({ err: error, filters }, 'mqtt subscribe failed');
    });
  }
}

/**
 * What every MQTT sensor simulator shares: its own connection with a last will,
 * a telemetry timer, commands, and switches to go offline (the link drops without a
 * DISCONNECT, so the broker publishes the will) or to ignore commands. Reconnects on
 * its own when the broker restarts. An instance holds all its state.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { type Logger } from '../../gateway/jstp/logger.js';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { Random } from './random.js';

export interface SimulatorOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** The device's topic or id (the convention decides where it goes). */
  topic: string;
  /** Seed of the readings' randomness (default 1). */
  seed?: number;
  /** Telemetry period in ms (default 5000). */
  intervalMs?: number;
  /** Simulated time per real time, for drift (default 1; 3600 makes an hour pass each second). */
  speed?: number;
  logger?: Logger;
}

export interface Message {
  topic: string;
  payload: string;
  retain?: boolean;
}

interface SimulatorEvents {
  /** Connected and announced (after each reconnect too). */
  ready: [];
  /** A command was applied. */
  command: [topic: string, payload: string];
}

export abstract class MqttSimulator extends EventEmitter<SimulatorEvents> {
  readonly url: string;
  readonly topic: string;
  protected readonly random: Random;
  protected readonly logger: Logger;
  protected readonly speed: number;
  private interval: number;
  private client: MqttClient | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private online = false;
  /** When true, commands are received and ignored (a hung firmware). */
  unresponsive = false;

  constructor(options: SimulatorOptions) {
    super();
    this.url = options.url;
    this.topic = options.topic;
    this.random = new Random(options.seed ?? 1);
    this.interval = options.intervalMs ?? 5_000;
    this.speed = options.speed ?? 1;
    this.logger = options.logger ?? silentLogger();
  }

  get intervalMs(): number {
    return this.interval;
  }

  get isOnline(): boolean {
    return this.online;
  }

  /** Connects and announces; resolves once the birth messages are out. */
  async start(): Promise<void> {
    if (this.online) return;
    this.online = true;
    const ready = new Promise<void>((resolve) => this.once('ready', resolve));
    this.connect();
    await ready;
  }

  /** Disconnects cleanly (publishing its offline state first) and stops its timer. */
  async stop(): Promise<void> {
    if (!this.online) return;
    const client = this.client;
    if (client?.connected) {
      for (const message of this.goodbye()) await client.publishAsync(message.topic, message.payload, { retain: message.retain ?? false, qos: 1 });
    }
    await this.disconnect(false);
  }

  /** Offline: the link drops (the broker then sends the will). Online: it comes back and announces. */
  async setOnline(online: boolean): Promise<void> {
    if (online) await this.start();
    else await this.disconnect(true);
  }

  /** Changes the telemetry period. */
  protected changeInterval(ms: number): void {
    this.interval = ms;
    if (this.timer) this.startTicking();
  }

  /** Hours of simulated time per tick. */
  protected get tickHours(): number {
    return (this.interval * this.speed) / 3_600_000;
  }

  protected publish(messages: readonly Message[]): void {
    const client = this.client;
    if (!client?.connected) return;
    for (const message of messages) {
      client.publish(message.topic, message.payload, { retain: message.retain ?? false, qos: 0 });
    }
  }

  /** The last will: what the broker publishes when the link drops. */
  protected abstract will(): Message;
  /** Published on every connect: availability, attributes, current state. */
  protected abstract birth(): Message[];
  /** Published on a clean stop. */
  protected abstract goodbye(): Message[];
  /** Topic filters of commands. */
  protected abstract commandTopics(): string[];
  /** Advances the model one tick and returns the telemetry to publish. */
  protected abstract tick(): Message[];
  /** Applies a command; returns what to publish in reply. */
  protected abstract command(topic: string, payload: string): Message[];

  private connect(): void {
    const will = this.will();
    const client = mqtt.connect(this.url, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 200,
      resubscribe: false,
      connectTimeout: 5_000,
      clientId: `sim-${this.topic.replace(/[^A-Za-z0-9-]/g, '-')}-${this.random.next().toString(36).slice(2, 8)}`,
      will: { topic: will.topic, payload: Buffer.from(will.payload), retain: will.retain ?? true, qos: 1 },
    });
    this.client = client;
    client.on('connect', () => {
      client.subscribe(this.commandTopics(), { qos: 0 }, (error) => {
        if (error) {
          this.logger.warn({ err: error }, 'simulator subscribe failed');
          return;
        }
        const birth = this.birth();
        const last = birth.length - 1;
        birth.forEach((message, index) => {
          client.publish(message.topic, message.payload, { retain: message.retain ?? false, qos: 1 }, (publishError) => {
            if (index === last && !publishError) this.emit('ready');
          });
        });
        if (last < 0) this.emit('ready');
        this.startTicking();
      });
    });
    client.on('message', (topic, payload) => {
      if (this.unresponsive) return;
      try {
        const reply = this.command(topic, payload.toString('utf8'));
        this.publish(reply);
        this.emit('command', topic, payload.toString('utf8'));
      } catch (error) {
        this.logger.debug({ err: error, topic }, 'simulator ignored a command');
      }
    });
    client.on('error', (error) => this.logger.debug({ err: error }, 'simulator connection error'));
  }

  private startTicking(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.publish(this.tick()), this.interval);
  }

  private async disconnect(abrupt: boolean): Promise<void> {
    this.online = false;
    clearInterval(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // force=true destroys the socket without a DISCONNECT packet: the broker sends the will.
    await new Promise<void>((resolve) => client.end(abrupt, {}, () => resolve()));
    client.removeAllListeners();
    client.on('error', () => {});
  }
}

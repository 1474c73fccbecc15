/**
 * The MQTT driver: configured devices on topic conventions (plain JSON, Tasmota),
 * discovered Homie 4 devices, availability from LWT or `$state`, writes and actions
 * as publishes confirmed by the device's next report. A malformed payload is logged
 * and counted, never thrown; a command while the broker is down fails at once (502).
 */
import { z } from 'zod';
import type { DeviceConfig, DeviceDescription, DeviceHandle, DeviceHandlers, Driver, DriverContext } from '../driver.js';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import { Confirmations } from './confirmations.js';
import { linkDown, MqttConnection, type ConnectionOptions } from './connection.js';
import type { TopicConvention } from './convention.js';
import { HomieDiscovery, type HomieUpdate } from './homie.js';
import { plainJson } from './plain-json.js';
import { loadMqttProfile, type MqttProfile } from './profile-schema.js';
import { builtinProfiles } from './profiles/index.js';
import { tasmota } from './tasmota.js';
import { TopicDevice, type Publication } from './topic-device.js';
import { type Logger } from '../../gateway/jstp/logger.js';

const CONVENTIONS: Readonly<Record<MqttProfile['convention'], TopicConvention>> = {
  'plain-json': plainJson,
  tasmota,
};

export interface MqttDriverOptions {
  /** The driver's name, and the `driver` of its config entries (default `mqtt`). */
  name?: string;
  /** Broker URL; otherwise the `url` of the driver-wide options (the config's `mqtt:` section). */
  url?: string;
  /** Homie discovery under this base topic (default `homie`); false turns it off. */
  homie?: string | false;
  /** More profiles by name, as data; they are validated when the driver starts. */
  profiles?: Readonly<Record<string, unknown>>;
  /** Backoff, timeouts and mqtt.js options of the connection. */
  connection?: Omit<ConnectionOptions, 'url' | 'logger'>;
}

export interface MqttDriverStats {
  connected: boolean;
  /** Messages received. */
  messages: number;
  /** Payloads that broke their convention (logged and dropped). */
  malformed: number;
  reconnects: number;
  /** Commands waiting for the device to confirm them. */
  pending: number;
}

const deviceEntrySchema = z.looseObject({
  id: z.string().min(1),
  topic: z.string().min(1).refine((topic) => !/[#+]/.test(topic), 'a topic without wildcards'),
  profile: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
});

/** A device this driver added, and how to keep it current. */
interface Tracked {
  readonly handle: DeviceHandle;
  /** Availability was heard on the device's own topic (otherwise a state message means online). */
  availabilityKnown: boolean;
  /** Discovered through Homie (its `$state` is its only availability). */
  readonly homie: boolean;
}

function configError(message: string): PasarelaError {
  return errors.config(message);
}

export class MqttDriver implements Driver {
  readonly name: string;
  private readonly confirmations = new Confirmations();
  private connection: MqttConnection | undefined;
  private homie: HomieDiscovery | undefined;
  private logger: Logger | undefined;
  private context: DriverContext | undefined;
  /** Exact topic -> what to do with its payload: the hot path is one map lookup. */
  private readonly routes = new Map<string, (payload: Buffer) => void>();
  private readonly tracked = new Map<string, Tracked>();
  /** Homie availability heard before the device was complete enough to add. */
  private readonly homieOnline = new Map<string, boolean>();
  private counts = { messages: 0, malformed: 0 };

  constructor(private readonly options: MqttDriverOptions = {}) {
    this.name = options.name ?? 'mqtt';
  }

  stats(): MqttDriverStats {
    return {
      connected: this.connection?.connected ?? false,
      messages: this.counts.messages,
      malformed: this.counts.malformed,
      reconnects: this.connection?.reconnects ?? 0,
      pending: this.confirmations.size,
    };
  }

  checkProfile(name: string, data: unknown): void {
    loadMqttProfile(name, data);
  }

  async start(context: DriverContext): Promise<void> {
    if (this.connection) throw errors.config(`driver "${this.name}" is already started`);
    const url = this.options.url ?? (typeof context.options.url === 'string' ? context.options.url : undefined);
    if (!url) throw configError(`driver "${this.name}": no broker URL (set mqtt.url, or let the gateway start its embedded broker)`);
    this.context = context;
    this.logger = context.logger;
    this.counts = { messages: 0, malformed: 0 };
    // An entry with a `key` and no `topic` only renames a discovered device (the registry does that).
    const devices = context.devices.filter((entry) => entry.topic !== undefined || entry.key === undefined).map((entry) => this.compile(entry));

    const connection = new MqttConnection({ ...this.options.connection, url, logger: context.logger });
    this.connection = connection;
    connection.on('message', (topic, payload) => this.onMessage(topic, payload));
    connection.on('down', () => this.onDown());

    const filters: string[] = [];
    for (const { entry, device } of devices) {
      filters.push(...this.track(entry, device));
    }
    const base = this.options.homie ?? 'homie';
    if (base !== false) {
      this.homie = new HomieDiscovery(base);
      filters.push(this.homie.filter);
    }
    connection.subscribe(filters);
    connection.start();
  }

  async stop(): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    this.connection = undefined;
    await connection.stop();
    this.confirmations.fail(linkDown(`driver "${this.name}" stopped`));
    for (const tracked of this.tracked.values()) tracked.handle.remove();
    this.tracked.clear();
    this.routes.clear();
    this.homieOnline.clear();
    this.homie?.clear();
    this.homie = undefined;
    this.context = undefined;
  }

  // ---- configured devices -----------------------------------------------------------

  private compile(entry: DeviceConfig): { entry: DeviceConfig; device: TopicDevice } {
    const parsed = deviceEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw configError(`device "${entry.id}": ${issue.path.join('.') || '(entry)'}: ${issue.message}`);
    }
    const { profile: profileRef, topic } = parsed.data;
    let profile: MqttProfile;
    if (typeof profileRef === 'string') {
      const profiles = { ...builtinProfiles, ...this.options.profiles, ...this.context?.profiles };
      const data = Object.hasOwn(profiles, profileRef) ? profiles[profileRef] : undefined;
      if (data === undefined) {
        const known = Object.keys(profiles).join(', ');
        throw configError(`device "${entry.id}": profile: no MQTT profile "${profileRef}" (known: ${known})`);
      }
      profile = loadMqttProfile(profileRef, data);
    } else {
      profile = loadMqttProfile(`${entry.id} (inline)`, profileRef);
    }
    return { entry, device: new TopicDevice(topic, profile, CONVENTIONS[profile.convention]) };
  }

  /** Adds a configured device and routes its topics; returns the topics to subscribe. */
  private track(entry: DeviceConfig, device: TopicDevice): string[] {
    const key = device.topic;
    const handlers: DeviceHandlers = {
      writeProperty: (name, value, signal) => this.command(key, device.write(name, value), { property: name, value }, signal),
      invokeAction: (name, input, signal) => this.command(key, device.action(name, input), device.actionConfirmation(name, input), signal),
    };
    const handle = this.context!.addDevice({ key, id: entry.id, ...device.description }, handlers);
    const tracked: Tracked = { handle, availabilityKnown: false, homie: false };
    this.tracked.set(key, tracked);
    for (const topic of device.stateTopics) {
      this.routes.set(topic, (payload) => this.onState(key, device, tracked, topic, payload));
    }
    if (device.availabilityTopic) {
      const topic = device.availabilityTopic;
      this.routes.set(topic, (payload) => this.onAvailability(key, device, tracked, topic, payload));
    }
    return device.topics;
  }

  private onState(key: string, device: TopicDevice, tracked: Tracked, topic: string, payload: Buffer): void {
    let document: unknown;
    try {
      document = JSON.parse(payload.toString('utf8'));
    } catch {
      this.malformed(topic, 'not JSON');
      return;
    }
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      this.malformed(topic, 'not a JSON object');
      return;
    }
    const update = device.parseState(document);
    if (!tracked.availabilityKnown) tracked.handle.setOnline(true);
    const reply = device.replyTopics.has(topic);
    for (const [name, value] of update.values) {
      tracked.handle.reportProperty(name, value);
      this.confirmations.reported(key, name, value, reply);
    }
    for (const [name, data] of update.events) tracked.handle.reportEvent(name, data);
    for (const problem of update.problems) this.malformed(topic, problem);
  }

  private onAvailability(key: string, device: TopicDevice, tracked: Tracked, topic: string, payload: Buffer): void {
    const online = device.parseAvailability(payload.toString('utf8'));
    if (online === undefined) {
      this.malformed(topic, 'neither online nor offline');
      return;
    }
    tracked.availabilityKnown = true;
    tracked.handle.setOnline(online);
    if (!online) this.confirmations.fail(linkDown(`device ${key} went offline`), key);
  }

  // ---- Homie ------------------------------------------------------------------------

  private onHomie(topic: string, payload: Buffer): void {
    let updates: HomieUpdate[];
    try {
      updates = this.homie!.handle(topic, payload);
    } catch (error) {
      this.malformed(topic, error instanceof Error ? error.message : String(error));
      return;
    }
    for (const update of updates) {
      const tracked = this.tracked.get(update.key);
      switch (update.kind) {
        case 'describe':
          if (tracked) tracked.handle.describe(update.description);
          else this.addHomie(update.key, update.description);
          break;
        case 'value':
          if (!tracked) break;
          tracked.handle.reportProperty(update.name, update.value);
          this.confirmations.reported(update.key, update.name, update.value);
          break;
        case 'online':
          this.homieOnline.set(update.key, update.online);
          tracked?.handle.setOnline(update.online);
          if (!update.online) this.confirmations.fail(linkDown(`device ${update.key} went offline`), update.key);
          break;
        case 'remove':
          tracked?.handle.remove();
          this.tracked.delete(update.key);
          this.homieOnline.delete(update.key);
          break;
      }
    }
  }

  private addHomie(key: string, description: DeviceDescription): void {
    const homie = this.homie!;
    const handle = this.context!.addDevice(
      { key, ...description },
      { writeProperty: (name, value, signal) => this.command(key, homie.write(key, name, value), { property: name, value }, signal) },
    );
    this.tracked.set(key, { handle, availabilityKnown: true, homie: true });
    handle.setOnline(this.homieOnline.get(key) ?? false);
  }

  // ---- commands and the link --------------------------------------------------------

  /**
   * Publishes a command and waits for its confirmation (a report of `confirm.property`,
   * with `confirm.value` if given), or just for the broker's acknowledgement.
   */
  private async command(key: string, publication: Publication, confirm: { property: string; value?: unknown } | undefined, signal: AbortSignal): Promise<unknown> {
    const connection = this.connection;
    if (!connection || !connection.connected) throw linkDown(`MQTT broker is unreachable; ${publication.topic} not sent`);
    if (!confirm) {
      await connection.publish(publication.topic, publication.payload, { qos: 1 });
      return null;
    }
    const failed = new AbortController();
    const expected = 'value' in confirm ? { value: confirm.value } : undefined;
    const confirmed = this.confirmations.wait(key, confirm.property, expected, AbortSignal.any([signal, failed.signal]));
    // Handled below or by the caller; this keeps an early abort from being "unhandled".
    confirmed.catch(() => {});
    try {
      await connection.publish(publication.topic, publication.payload, { qos: 1 });
    } catch (error) {
      failed.abort(error);
    }
    return confirmed;
  }

  private onMessage(topic: string, payload: Buffer): void {
    this.counts.messages++;
    try {
      const route = this.routes.get(topic);
      if (route) route(payload);
      else if (this.homie?.owns(topic)) this.onHomie(topic, payload);
    } catch (error) {
      // A bug in a converter or handler must not take the connection down.
      this.malformed(topic, error instanceof Error ? error.message : String(error));
    }
  }

  private onDown(): void {
    this.logger?.warn('mqtt broker unreachable; devices offline until it is back');
    for (const tracked of this.tracked.values()) {
      // Retained availability comes back on reconnect; until then nobody can reach them.
      if (!tracked.homie) tracked.availabilityKnown = false;
      tracked.handle.setOnline(false);
    }
    this.homieOnline.clear();
    this.confirmations.fail(linkDown('MQTT broker connection lost'));
  }

  private malformed(topic: string, reason: string): void {
    this.counts.malformed++;
    this.logger?.warn({ topic, reason, malformed: this.counts.malformed }, 'malformed MQTT payload dropped');
  }
}

export function createMqttDriver(options: MqttDriverOptions = {}): MqttDriver {
  return new MqttDriver(options);
}

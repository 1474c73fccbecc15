/**
 * The Driver SDK: what a driver implements and what the gateway gives it.
 * Types and contracts only; the gateway's device registry (gateway/devices/)
 * turns these calls into JSTP resources (see DESIGN.md "Resources a gateway exposes").
 *
 * The smallest driver:
 * ```ts
 * export const clock: Driver = {
 *   name: 'clock',
 *   async start(context) {
 *     const device = context.addDevice(
 *       { key: 'clock', title: 'Clock', properties: { now: { type: 'integer', unit: 'ms' } } },
 *       { readProperty: async () => Date.now() },
 *     );
 *     device.setOnline(true);
 *   },
 *   async stop() {},
 * };
 * ```
 */
import { type Logger } from '../gateway/jstp/logger.js';

/** A JSON Schema subset: enough to describe property values and action inputs. */
export interface ValueSchema {
  type?: 'number' | 'integer' | 'boolean' | 'string' | 'object' | 'array' | 'null';
  enum?: readonly (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Readonly<Record<string, ValueSchema>>;
  required?: readonly string[];
  /** Objects: whether keys other than `properties` are allowed (default true). */
  additionalProperties?: boolean;
  items?: ValueSchema;
  title?: string;
  description?: string;
  /**
   * The value a missing one takes. In an action's input, the gateway fills every
   * missing field that has a default before it checks the input, so the driver
   * always gets it (`size` defaults to `medium`: a POST without a body brews one).
   */
  default?: unknown;
}

/** A property of a device: a value it reports and, if writable, accepts. */
export interface PropertySpec extends ValueSchema {
  /** Unit symbol, e.g. `°C`, `%`, `W`. */
  unit?: string;
  /** PUT is allowed (default false: a PUT gets 403). */
  writable?: boolean;
  /** GET may be served from the last reported value (default true). */
  observable?: boolean;
}

export interface ActionSpec {
  title?: string;
  description?: string;
  /** Validated before `invokeAction` is called; a mismatch gets 400. */
  input?: ValueSchema;
  output?: ValueSchema;
}

export interface EventSpec {
  title?: string;
  description?: string;
  data?: ValueSchema;
}

/** What `GET ["devices", id]` returns: data, usually from a profile. */
export interface DeviceDescription {
  title?: string;
  /** The profile or model name, e.g. `coffee-maker`, `homie`. */
  model?: string;
  /** Who made the device, when the profile or the device says so. */
  manufacturer?: string;
  properties?: Readonly<Record<string, PropertySpec>>;
  actions?: Readonly<Record<string, ActionSpec>>;
  events?: Readonly<Record<string, EventSpec>>;
}

export interface DeviceInfo extends DeviceDescription {
  /**
   * The driver's stable key for this device (a topic, a BLE address, a port path),
   * unique within the driver. The gateway derives the device id from it unless the
   * config names the device; the same key gives the same id after a restart.
   */
  key: string;
  /** Preferred id, e.g. the `id` of the config entry that declared the device. */
  id?: string;
}

/**
 * Served by the driver for one device. Each call has a deadline: when `signal`
 * aborts, the gateway has already answered 504 and the driver should stop waiting.
 * Throw a `PasarelaError` with a JSTP `status` to choose the answer (400 bad value,
 * 502 device unreachable, 501 not supported, ...); any other error answers 500.
 */
export interface DeviceHandlers {
  /** Reads a property from the device. Without it, GET answers the last reported value. */
  readProperty?(name: string, signal: AbortSignal): Promise<unknown>;
  /** Writes a property (already validated against its spec); resolves with the value the device confirmed. */
  writeProperty?(name: string, value: unknown, signal: AbortSignal): Promise<unknown>;
  /** Runs an action (input already validated); resolves with its output. */
  invokeAction?(name: string, input: unknown, signal: AbortSignal): Promise<unknown>;
}

/** The gateway's side of one device, returned by `DriverContext.addDevice`. */
export interface DeviceHandle {
  /** The JSTP id: `["devices", id, ...]`. */
  readonly id: string;
  /** A new value: emitted as `PATCH ["devices", id, "properties", name]` `{value, at}` when it changed. */
  reportProperty(name: string, value: unknown, at?: number): void;
  /** Emitted as `POST ["devices", id, "events", name]` `{data, at}`. */
  reportEvent(name: string, data?: unknown, at?: number): void;
  /** Emitted as `PATCH ["devices", id]` `{online}` when it changed. Calls while offline answer 502. */
  setOnline(online: boolean): void;
  /** Replaces the description, e.g. after a device announced what it offers. */
  describe(description: DeviceDescription): void;
  /** Removes the device and its resources. */
  remove(): void;
}

/** One `devices:` entry of the config that names this driver. Driver-specific keys pass through. */
export interface DeviceConfig {
  id: string;
  driver: string;
  [option: string]: unknown;
}

export interface DriverContext {
  readonly logger: Logger;
  /** The config entries for this driver. */
  readonly devices: readonly DeviceConfig[];
  /**
   * Driver-wide options from the config: the section named after a built-in driver
   * (e.g. `mqtt: { url }`), or the `options` of a `drivers:` entry.
   */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * Device models from the config's profile files (`profiles: [./profiles/*.yaml]`)
   * whose `driver` is this driver, by name. Each has passed `checkProfile` when the
   * driver has one. Use them beside your built-in profiles.
   */
  readonly profiles: Readonly<Record<string, unknown>>;
  /**
   * Adds a device. It starts offline unless `setOnline(true)` is called. Adding a key
   * that already exists replaces the device's description and handlers, keeping its id.
   */
  addDevice(info: DeviceInfo, handlers: DeviceHandlers): DeviceHandle;
}

/**
 * A driver: `start` resolves once it is running (devices may come later, as they
 * are discovered); it must not reject because a device is absent: it reports the
 * device offline and retries with backoff. `stop` releases every socket, port and
 * timer and resolves when done. A driver never imports another driver.
 *
 * The gateway isolates a driver that fails: a `start` that throws or rejects, or an
 * exception or unhandled rejection from the driver's own callbacks (timers, socket
 * and event handlers, promises it started), is logged with the driver's name; its
 * devices go offline, it is stopped and started again with backoff, and the rest of
 * the gateway keeps running.
 */
export interface Driver {
  readonly name: string;
  /** Shown by `GET ["drivers"]` when no package.json says it (a driver in a file of its own). */
  readonly version?: string;
  start(context: DriverContext): Promise<void>;
  stop(): Promise<void>;
  /**
   * Validates one device model for this driver (a profile file of the config): throw a
   * `ProfileError` (from `loadProfile`) naming each bad field. The gateway runs it
   * before `start` and reports the file, the line and the key of each problem.
   */
  checkProfile?(name: string, data: unknown): void;
}

/**
 * The device registry: the gateway's side of every driver. It hands each driver a
 * DriverContext, keeps each device's description, availability and last values,
 * turns reports into dispatches (PATCH on values and availability, POST on events),
 * and serves reads, writes and action calls with JSTP statuses (404, 403, 400, 502,
 * 504). The resources that reach it are bound in resources.ts.
 */
import type {
  DeviceConfig,
  DeviceDescription,
  DeviceHandle,
  DeviceHandlers,
  DeviceInfo,
  DriverContext,
} from '../../drivers/driver.js';
import type { Engine } from '../jstp/engine.js';
import { errors, PasarelaError } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import { withDeadline } from './deadline.js';
import { derivedId, disambiguatedId } from './ids.js';
import { applyDefaults, checkValue } from './schema-check.js';

export interface RegistryOptions {
  engine: Engine;
  logger?: Logger;
  /** How long a read, write or action may take before 504 (default: the engine's answer timeout less 250 ms). */
  deadlineMs?: number;
  /**
   * Config entries. One with a `key` renames the device its driver reports under that
   * key: `{ id: lamp, driver: mqtt, key: homie/lamp-1 }`.
   */
  devices?: readonly DeviceConfig[];
}

/** One entry of `GET ["devices"]`. */
export interface DeviceSummary {
  id: string;
  driver: string;
  online: boolean;
  title?: string;
  model?: string;
}

/** `GET ["devices", id]`. */
export interface DeviceDetails extends DeviceSummary, DeviceDescription {}

export interface PropertyValue {
  value: unknown;
  at: number;
}

/**
 * What happened to a device, for plugins that mirror the device list elsewhere:
 * `added`, `described` (its description was replaced) or `removed`. Values and
 * availability are dispatches (PATCH), not changes.
 */
export interface DeviceChange {
  kind: 'added' | 'described' | 'removed';
  id: string;
}

interface Device {
  readonly id: string;
  readonly driver: string;
  readonly key: string;
  description: DeviceDescription;
  handlers: DeviceHandlers;
  online: boolean;
  readonly values: Map<string, PropertyValue>;
  /** Set when removed, so a stale handle does nothing. */
  removed: boolean;
}

function notFound(message: string): PasarelaError {
  return errors.deviceNotFound(message);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

export class DeviceRegistry {
  private readonly engine: Engine;
  private readonly logger: Logger;
  readonly deadlineMs: number;
  private readonly byId = new Map<string, Device>();
  /** `driver\0key` -> device. */
  private readonly byKey = new Map<string, Device>();
  /** `driver\0key` -> the id the config gives it. */
  private readonly renames = new Map<string, string>();
  /** Ids a device once had, so it gets the same one back after being removed and re-added. */
  private readonly assigned = new Map<string, string>();
  /** Drivers holding a context, in the order they got it. */
  private readonly driverNames = new Set<string>();
  private readonly watchers = new Set<(change: DeviceChange) => void>();

  constructor(options: RegistryOptions) {
    this.engine = options.engine;
    this.logger = options.logger ?? silentLogger();
    this.deadlineMs = options.deadlineMs ?? Math.max(1, options.engine.answerTimeoutMs - 250);
    for (const entry of options.devices ?? []) {
      if (typeof entry.key === 'string' && entry.key !== '') this.renames.set(`${entry.driver}\u0000${entry.key}`, entry.id);
    }
  }

  /** The context a driver's `start` receives. */
  context(
    driver: string,
    devices: readonly DeviceConfig[] = [],
    options: Readonly<Record<string, unknown>> = {},
    logger?: Logger,
    profiles: Readonly<Record<string, unknown>> = {},
  ): DriverContext {
    this.driverNames.add(driver);
    return {
      logger: logger ?? this.logger.child({ driver }),
      devices,
      options,
      profiles,
      addDevice: (info, handlers) => this.add(driver, info, handlers),
    };
  }

  /** Removes every device of a driver (it stopped). */
  removeDriver(driver: string): void {
    this.driverNames.delete(driver);
    for (const device of [...this.byId.values()]) {
      if (device.driver === driver) this.removeDevice(device);
    }
  }

  /** The drivers that were given a context and not removed: `drivers` of `GET ["gateway"]`. */
  drivers(): string[] {
    return [...this.driverNames];
  }

  /** Calls `watcher` after each device change; returns the function that stops it. */
  watch(watcher: (change: DeviceChange) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  list(): DeviceSummary[] {
    return [...this.byId.values()].map((device) => this.summary(device));
  }

  details(id: string): DeviceDetails {
    const device = this.device(id);
    return { ...this.summary(device), ...device.description };
  }

  /** Every property's last value: `GET ["devices", id, "properties"]`. */
  values(id: string): Record<string, PropertyValue> {
    return Object.fromEntries(this.device(id).values);
  }

  async readProperty(id: string, name: string): Promise<unknown> {
    const device = this.device(id);
    const spec = device.description.properties?.[name];
    if (!spec && !device.values.has(name)) throw notFound(`device "${id}" has no property "${name}"`);
    this.assertOnline(device);
    const read = device.handlers.readProperty;
    const cached = device.values.get(name);
    if (read && (spec?.observable === false || cached === undefined)) {
      const value = await withDeadline(this.deadlineMs, `read ${id}.${name}`, (signal) => read.call(device.handlers, name, signal));
      this.report(device, name, value, Date.now());
      return value;
    }
    if (cached === undefined) {
      throw errors.deviceOffline(`device "${id}" has not reported "${name}" yet`);
    }
    return cached.value;
  }

  async writeProperty(id: string, name: string, value: unknown): Promise<unknown> {
    const device = this.device(id);
    const spec = device.description.properties?.[name];
    if (!spec) throw notFound(`device "${id}" has no property "${name}"`);
    if (!spec.writable) throw errors.readOnly(`property "${name}" of "${id}" is read-only`);
    const problem = checkValue(spec, value);
    if (problem) throw errors.badValue(`${name}: ${problem}`);
    this.assertOnline(device);
    const write = device.handlers.writeProperty;
    if (!write) throw errors.notSupported(`device "${id}" cannot write "${name}"`);
    const confirmed = await withDeadline(this.deadlineMs, `write ${id}.${name}`, (signal) => write.call(device.handlers, name, value, signal));
    this.report(device, name, confirmed, Date.now());
    return confirmed;
  }

  /** Runs an action with its input's defaults filled in: `brew` with no input brews a `medium` cup. */
  async invokeAction(id: string, name: string, given: unknown): Promise<unknown> {
    const device = this.device(id);
    const spec = device.description.actions?.[name];
    if (!spec) throw notFound(`device "${id}" has no action "${name}"`);
    const input = applyDefaults(spec.input, given);
    if (spec.input) {
      const problem = checkValue(spec.input, input, 'input');
      if (problem) throw errors.badValue(`${name}: ${problem}`);
    }
    this.assertOnline(device);
    const invoke = device.handlers.invokeAction;
    if (!invoke) throw errors.notSupported(`device "${id}" cannot run "${name}"`);
    return withDeadline(this.deadlineMs, `action ${id}.${name}`, (signal) => invoke.call(device.handlers, name, input, signal));
  }

  // ---- the driver side ------------------------------------------------------------

  private add(driver: string, info: DeviceInfo, handlers: DeviceHandlers): DeviceHandle {
    const compound = `${driver}\u0000${info.key}`;
    const { key: _key, id: _id, ...description } = info;
    let device = this.byKey.get(compound);
    if (device) {
      device.description = description;
      device.handlers = handlers;
      this.changed('described', device);
    } else {
      device = {
        id: this.chooseId(driver, info),
        driver,
        key: info.key,
        description,
        handlers,
        online: false,
        values: new Map(),
        removed: false,
      };
      this.byKey.set(compound, device);
      this.byId.set(device.id, device);
      this.assigned.set(compound, device.id);
      this.logger.debug({ id: device.id, driver, key: info.key }, 'device added');
      this.changed('added', device);
    }
    return this.handle(device);
  }

  private chooseId(driver: string, info: DeviceInfo): string {
    const compound = `${driver}\u0000${info.key}`;
    const previous = this.assigned.get(compound);
    if (previous !== undefined && !this.byId.has(previous)) return previous;
    const wanted = this.renames.get(compound) ?? info.id ?? derivedId(driver, info.key);
    if (!this.byId.has(wanted)) return wanted;
    const fallback = disambiguatedId(wanted, driver, info.key);
    this.logger.warn({ driver, key: info.key, wanted, id: fallback }, 'device id already taken');
    return fallback;
  }

  private handle(device: Device): DeviceHandle {
    // The handle closes over this device object: after a remove it is inert, even if
    // the key is added again (that makes a new device and a new handle).
    return {
      id: device.id,
      reportProperty: (name, value, at) => {
        if (!device.removed) this.report(device, name, value, at ?? Date.now());
      },
      reportEvent: (name, data, at) => {
        if (device.removed) return;
        this.emit('POST', ['devices', device.id, 'events', name], { data: data ?? null, at: at ?? Date.now() });
      },
      setOnline: (online) => {
        if (device.removed || device.online === online) return;
        device.online = online;
        this.logger.debug({ id: device.id, online }, 'availability changed');
        this.emit('PATCH', ['devices', device.id], { online });
      },
      describe: (description) => {
        if (device.removed) return;
        device.description = description;
        this.changed('described', device);
      },
      remove: () => {
        if (!device.removed) this.removeDevice(device);
      },
    };
  }

  private report(device: Device, name: string, value: unknown, at: number): void {
    const previous = device.values.get(name);
    if (previous) {
      if (at < previous.at) return;
      if (sameValue(previous.value, value)) {
        previous.at = at;
        return;
      }
      previous.value = value;
      previous.at = at;
    } else {
      device.values.set(name, { value, at });
    }
    this.emit('PATCH', ['devices', device.id, 'properties', name], { value, at });
  }

  private removeDevice(device: Device): void {
    device.removed = true;
    this.byId.delete(device.id);
    this.byKey.delete(`${device.driver}\u0000${device.key}`);
    if (device.online) this.emit('PATCH', ['devices', device.id], { online: false, removed: true });
    device.online = false;
    this.logger.debug({ id: device.id }, 'device removed');
    this.changed('removed', device);
  }

  private changed(kind: DeviceChange['kind'], device: Device): void {
    for (const watcher of this.watchers) {
      try {
        watcher({ kind, id: device.id });
      } catch (error) {
        // One failing watcher must not keep the others, or the driver, from going on.
        this.logger.error({ err: error, id: device.id, change: kind }, 'device watcher failed');
      }
    }
  }

  /** Reports can race a closing gateway; a closed engine just drops them. */
  private emit(method: 'PATCH' | 'POST', resource: string[], body: unknown): void {
    if (!this.engine.isClosed) this.engine.emit(method, resource, body);
  }

  private device(id: string): Device {
    const device = this.byId.get(id);
    if (!device) throw notFound(`no device "${id}"`);
    return device;
  }

  private assertOnline(device: Device): void {
    if (!device.online) {
      throw errors.deviceOffline(`device "${device.id}" is offline`);
    }
  }

  private summary(device: Device): DeviceSummary {
    const summary: DeviceSummary = { id: device.id, driver: device.driver, online: device.online };
    if (device.description.title !== undefined) summary.title = device.description.title;
    if (device.description.model !== undefined) summary.model = device.description.model;
    return summary;
  }
}

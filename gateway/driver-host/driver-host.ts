/**
 * The gateway's drivers: each runs under a supervisor (supervisor.ts) that keeps its
 * failures its own, gets the profile files written for it (checked first, so a bad
 * file is a config error naming its line), and is listed by `GET ["drivers"]` with its
 * name, version, origin and state. A device gate (device-gate.ts) may hold some
 * config entries back: a driver runs the entries the gate admits, and is started
 * again on its new list when that changes.
 */
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Engine } from '../jstp/engine.js';
import { errors } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import { profileFileError, type ProfileFile } from '../profiles/profile-files.js';
import type { DeviceGate } from './device-gate.js';
import { DriverSupervisor, type DriverSource, type DriverStatus, type RestartPolicy } from './supervisor.js';

export interface DriverHostOptions {
  readonly registry: DeviceRegistry;
  readonly logger: Logger;
  /** The config's profile files (`profiles:`). */
  readonly profileFiles?: readonly ProfileFile[];
}

export interface RunOptions {
  readonly devices: readonly DeviceConfig[];
  readonly options: Readonly<Record<string, unknown>>;
  readonly source: DriverSource;
  readonly restart?: RestartPolicy;
  /** The driver's logger (default: the host's, with `{ driver: name }`). */
  readonly logger?: Logger;
}

export class DriverHost {
  private readonly settings: DriverHostOptions;
  private readonly supervisors = new Map<string, DriverSupervisor>();
  /** Each running driver's config entries, admitted or not. */
  private readonly configured = new Map<DriverSupervisor, readonly DeviceConfig[]>();
  private deviceGate: DeviceGate | undefined;
  /** Drivers that have run, so a profile file for none of them can be pointed out. */
  private readonly ran = new Set<string>();

  constructor(settings: DriverHostOptions) {
    this.settings = settings;
  }

  /**
   * Starts `driver` under supervision and resolves with its stop. Rejects (with a
   * config error) only when its profile files or its config are wrong; any other
   * failure of its start is isolated and shown by `GET ["drivers"]`.
   */
  async run(driver: Driver, run: RunOptions): Promise<() => Promise<void>> {
    const { name } = driver;
    if (this.supervisors.has(name)) throw errors.config(`two drivers are named "${name}"`);
    const supervisor = new DriverSupervisor({
      driver,
      registry: this.settings.registry,
      logger: run.logger ?? this.settings.logger.child({ driver: name }),
      devices: this.admitted(run.devices),
      options: run.options,
      profiles: this.profilesFor(driver),
      source: run.source,
      // Pasarela's own drivers run unscoped: a gateway without drivers from outside pays nothing for the scope.
      scoped: run.source.origin !== 'built-in',
      ...(run.restart === undefined ? {} : { restart: run.restart }),
    });
    this.supervisors.set(name, supervisor);
    this.configured.set(supervisor, run.devices);
    this.ran.add(name);
    try {
      await supervisor.start();
    } catch (error) {
      this.supervisors.delete(name);
      this.configured.delete(supervisor);
      throw error;
    }
    return async () => {
      try {
        await supervisor.stop();
      } finally {
        this.supervisors.delete(name);
        this.configured.delete(supervisor);
      }
    };
  }

  /**
   * Lets `gate` decide which config entries the drivers run, from now on (one gate at
   * a time). Returns the function that removes it: every entry runs again.
   */
  gate(gate: DeviceGate): () => void {
    if (this.deviceGate) throw new Error('the driver host has a device gate already');
    this.deviceGate = gate;
    const unwatch = gate.onChange(() => this.regate());
    this.regate();
    return () => {
      unwatch();
      if (this.deviceGate === gate) this.deviceGate = undefined;
      this.regate();
    };
  }

  private admitted(devices: readonly DeviceConfig[]): readonly DeviceConfig[] {
    const gate = this.deviceGate;
    return gate ? devices.filter((device) => gate.admits(device)) : devices;
  }

  private regate(): void {
    for (const [supervisor, devices] of this.configured) void supervisor.setDevices(this.admitted(devices));
  }

  /** `GET ["drivers"]`: every driver, in the order they started. */
  list(): DriverStatus[] {
    return [...this.supervisors.values()].map((supervisor) => supervisor.status());
  }

  /** Binds `GET ["drivers"]`; returns the function that unbinds it. */
  bind(engine: Engine): () => void {
    return engine.bind({ method: 'GET', resource: ['drivers'] }, () => this.list());
  }

  /** Profile files whose driver has not run (a misspelt `driver:`, or a driver nothing uses). */
  unusedProfileFiles(): ProfileFile[] {
    return (this.settings.profileFiles ?? []).filter((file) => !this.ran.has(file.driver));
  }

  /** Config entries naming a driver that has not run. */
  devicesWithoutDriver(devices: readonly DeviceConfig[]): DeviceConfig[] {
    return devices.filter((device) => !this.ran.has(device.driver));
  }

  /** The driver's profiles from the files, each checked by the driver when it can check one. */
  private profilesFor(driver: Driver): Record<string, unknown> {
    const profiles: Record<string, unknown> = {};
    for (const file of this.settings.profileFiles ?? []) {
      if (file.driver !== driver.name) continue;
      try {
        driver.checkProfile?.(file.name, file.data);
      } catch (error) {
        throw profileFileError(file, error);
      }
      profiles[file.name] = file.data;
    }
    return profiles;
  }
}

/**
 * Wraps drivers as the gateway's driver starters (the `drivers` option of
 * `startGateway`). Every starter on one engine shares one registry, created on the
 * first start, so `GET ["devices"]` lists every driver's devices.
 * The types are structural, so this file does not depend on gateway.ts.
 */
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import type { Engine } from '../jstp/engine.js';
import type { Logger } from '../jstp/logger.js';
import { DeviceRegistry } from './registry.js';
import { bindDeviceResources } from './resources.js';

export interface StarterContextLike {
  readonly engine: Engine;
  readonly logger: Logger;
  /** The whole config: its `devices` (for renames) and a section named after the driver (its options). */
  readonly config: { readonly devices: readonly DeviceConfig[] } & object;
  /** The config entries whose `driver` is this driver. */
  readonly devices: readonly DeviceConfig[];
}

export interface RunningDriverLike {
  readonly name: string;
  stop(): Promise<void>;
}

export interface DriverStarterLike {
  readonly name: string;
  start(context: StarterContextLike): Promise<RunningDriverLike>;
}

export interface DeviceStartersOptions {
  /** Deadline of reads, writes and actions (see RegistryOptions). */
  deadlineMs?: number;
  /** Driver-wide options by driver name; merged over the config section of that name. */
  options?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

interface Shared {
  readonly registry: DeviceRegistry;
  readonly unbind: () => void;
  users: number;
}

/**
 * One registry per engine, whichever call made the starters: two sets of starters on
 * one gateway (say the BLE demo's and the MQTT demo's) must not both answer
 * `GET ["devices"]`. Keyed weakly by the engine, so nothing outlives its gateway.
 */
const registries = new WeakMap<Engine, Shared>();

function acquire(context: StarterContextLike, deadlineMs: number | undefined): { registry: DeviceRegistry; release(): void } {
  let shared = registries.get(context.engine);
  if (!shared) {
    const logger = context.logger.child({ component: 'devices' });
    const registry = new DeviceRegistry({
      engine: context.engine,
      logger,
      devices: context.config.devices,
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
    });
    shared = { registry, unbind: bindDeviceResources(context.engine, registry, logger), users: 0 };
    registries.set(context.engine, shared);
  }
  shared.users++;
  const current = shared;
  return {
    registry: current.registry,
    release() {
      if (--current.users > 0) return;
      if (!context.engine.isClosed) current.unbind();
      if (registries.get(context.engine) === current) registries.delete(context.engine);
    },
  };
}

/** The registry the starters made for this engine, if any (for tests and tools). */
export function registryOf(engine: Engine): DeviceRegistry | undefined {
  return registries.get(engine)?.registry;
}

/** One starter per driver; all starters on one engine share its device registry and resources. */
export function deviceStarters(drivers: readonly Driver[], startersOptions: DeviceStartersOptions = {}): DriverStarterLike[] {
  return drivers.map((driver) => ({
    name: driver.name,
    async start(context) {
      const { registry, release } = acquire(context, startersOptions.deadlineMs);
      const section = (context.config as Record<string, unknown>)[driver.name];
      const options = {
        ...(section !== null && typeof section === 'object' ? (section as Record<string, unknown>) : {}),
        ...startersOptions.options?.[driver.name],
      };
      try {
        await driver.start(registry.context(driver.name, context.devices, options, context.logger));
      } catch (error) {
        registry.removeDriver(driver.name);
        release();
        throw error;
      }
      let stopping: Promise<void> | undefined;
      return {
        name: driver.name,
        stop() {
          stopping ??= (async () => {
            try {
              await driver.stop();
            } finally {
              registry.removeDriver(driver.name);
              release();
            }
          })();
          return stopping;
        },
      };
    },
  }));
}

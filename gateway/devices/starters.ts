/**
 * Wraps drivers as the gateway's driver starters (the `drivers` option of
 * `startGateway`). The starters of one call share one registry, created on the first
 * start with that gateway's engine, so `GET ["devices"]` lists every driver's devices.
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

/** One starter per driver; together they share a device registry and its resources. */
export function deviceStarters(drivers: readonly Driver[], startersOptions: DeviceStartersOptions = {}): DriverStarterLike[] {
  let shared: { engine: Engine; registry: DeviceRegistry; unbind: () => void; users: number } | undefined;

  const acquire = (context: StarterContextLike) => {
    if (!shared || shared.engine !== context.engine) {
      const logger = context.logger.child({ component: 'devices' });
      const registry = new DeviceRegistry({
        engine: context.engine,
        logger,
        devices: context.config.devices,
        ...(startersOptions.deadlineMs === undefined ? {} : { deadlineMs: startersOptions.deadlineMs }),
      });
      shared = { engine: context.engine, registry, unbind: bindDeviceResources(context.engine, registry, logger), users: 0 };
    }
    shared.users++;
    const current = shared;
    return {
      registry: current.registry,
      release() {
        if (--current.users === 0) {
          if (!current.engine.isClosed) current.unbind();
          if (shared === current) shared = undefined;
        }
      },
    };
  };

  return drivers.map((driver) => ({
    name: driver.name,
    async start(context) {
      const { registry, release } = acquire(context);
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

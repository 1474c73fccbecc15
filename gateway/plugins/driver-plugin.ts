/**
 * A Driver (drivers/driver.ts) as a gateway plugin: it starts on the gateway's device
 * registry, under the gateway's supervision (a driver that fails is isolated, see
 * gateway/driver-host/), with its configured devices (the entries whose `driver` is
 * its name) and its config section (the section named after it) as its options, and
 * stops with the gateway. `preparedDriverPlugin` first makes what the driver needs
 * beside it (a broker, a simulator) and cleans that up after the driver stops.
 */
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import type { DriverSource, RestartPolicy } from '../driver-host/supervisor.js';
import { packageVersion } from '../package-version.js';
import type { GatewayPlugin, PluginContext, PluginStop } from '../plugin.js';

export interface DriverPluginOptions {
  /** Entries to add to the configured ones (a demo's devices); an entry whose id is configured is skipped. */
  devices?: readonly DeviceConfig[];
  /** Driver-wide options, merged over the config section named after the driver. */
  options?: Readonly<Record<string, unknown>>;
  /** Where the driver came from, for `GET ["drivers"]` (default: built in, Pasarela's version). */
  source?: DriverSource;
  /** How it is started again after a failure (default: backoff from 1 s to 60 s; `false`: never). */
  restart?: RestartPolicy;
}

/** What a prepared driver plugin starts. */
export interface PreparedDriver extends DriverPluginOptions {
  driver: Driver;
  /** Runs after the driver stops, or when its start fails. */
  cleanup?: () => void | Promise<void>;
}

function configSection(config: object, name: string): Record<string, unknown> {
  const section = (config as Record<string, unknown>)[name];
  return section !== null && typeof section === 'object' ? (section as Record<string, unknown>) : {};
}

/** Starts `driver` on the context's registry; resolves with its stop function. */
async function startDriver(driver: Driver, context: PluginContext, extra: DriverPluginOptions): Promise<PluginStop> {
  const configured = context.config.devices.filter((device) => device.driver === driver.name);
  const ids = new Set(configured.map((device) => device.id));
  const devices = [...configured, ...(extra.devices ?? []).filter((device) => !ids.has(device.id))];
  const options = { ...configSection(context.config, driver.name), ...extra.options };
  const source = extra.source ?? { origin: 'built-in', version: driver.version ?? packageVersion() };
  return context.drivers.run(driver, {
    devices,
    options,
    source,
    logger: context.logger,
    ...(extra.restart === undefined ? {} : { restart: extra.restart }),
  });
}

/** The plugin of one driver; the plugin is named after it. */
export function driverPlugin(driver: Driver, options: DriverPluginOptions = {}): GatewayPlugin {
  return { name: driver.name, start: (context) => startDriver(driver, context, options) };
}

/** A driver plugin whose driver, devices and companions `prepare` makes when the gateway starts. */
export function preparedDriverPlugin(name: string, prepare: (context: PluginContext) => Promise<PreparedDriver>): GatewayPlugin {
  return {
    name,
    async start(context) {
      let prepared: PreparedDriver | undefined;
      try {
        prepared = await prepare(context);
        const stopDriver = await startDriver(prepared.driver, context, prepared);
        const cleanup = prepared.cleanup;
        return async () => {
          try {
            await stopDriver();
          } finally {
            await cleanup?.();
          }
        };
      } catch (error) {
        await prepared?.cleanup?.();
        throw error;
      }
    },
  };
}

/** Whether a config entry names the driver. */
export function configNames(driver: string, config: { readonly devices: readonly { driver: string }[] }): boolean {
  return config.devices.some((device) => device.driver === driver);
}

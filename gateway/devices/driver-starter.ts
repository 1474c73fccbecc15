/**
 * A gateway driver starter around one driver and whatever it needs beside it (a
 * simulator, a broker): `prepare` makes the driver and any extra config entries,
 * and `cleanup` runs after the driver stops, or when starting fails.
 */
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import { deviceStarters, type DriverStarterLike, type StarterContextLike } from './starters.js';

export interface PreparedDriver {
  driver: Driver;
  /** Config entries to add (the demo's devices); entries whose id is configured are skipped. */
  devices?: readonly DeviceConfig[];
  cleanup?: () => void | Promise<void>;
}

export function driverStarter(
  name: string,
  prepare: (context: StarterContextLike) => Promise<PreparedDriver>,
  options: { deadlineMs?: number } = {},
): DriverStarterLike {
  return {
    name,
    async start(context: StarterContextLike) {
      let prepared: PreparedDriver | undefined;
      try {
        prepared = await prepare(context);
        const configured = new Set(context.devices.map((device) => device.id));
        const devices = [...context.devices, ...(prepared.devices ?? []).filter((device) => !configured.has(device.id))];
        const [starter] = deviceStarters([prepared.driver], options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs });
        const running = await starter!.start({ ...context, devices });
        const cleanup = prepared.cleanup;
        return {
          name,
          async stop() {
            try {
              await running.stop();
            } finally {
              await cleanup?.();
            }
          },
        };
      } catch (error) {
        await prepared?.cleanup?.();
        throw error;
      }
    },
  };
}

/** The starter is wanted in the demo, or when a config entry names the driver. */
export function wantsDriver(name: string, config: { readonly devices: readonly { driver: string }[] }, demo: boolean | undefined): boolean {
  return demo === true || config.devices.some((device) => device.driver === name);
}

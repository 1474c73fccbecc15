/**
 * The BLE driver as a gateway driver starter. With `demo`, the driver runs on the
 * simulated radio of a coffee maker (noble through our bindings); otherwise noble's
 * own HCI bindings are loaded, and without an adapter the driver says so and the
 * rest of the gateway keeps running.
 */
import { createBleDriver } from '../../drivers/ble/index.js';
import { COFFEE_DEMO_DEVICE, createSimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import { driverStarter, wantsDriver } from './driver-starter.js';
import type { DriverStarterLike } from './starters.js';

export interface BleStarterOptions {
  /** Run the simulated coffee maker (`pasarela --demo`). */
  demo?: boolean;
  /** Simulated time runs this many times faster (default 1: a cup takes about 8 s). */
  speed?: number;
  /** Deadline of reads, writes and actions. */
  deadlineMs?: number;
}

export function bleStarter(options: BleStarterOptions = {}): DriverStarterLike {
  return driverStarter('ble', async (context) => {
    if (!options.demo) return { driver: createBleDriver() };
    const coffee = createSimulatedCoffeeMaker({ speed: options.speed ?? 1 });
    context.logger.info({ device: COFFEE_DEMO_DEVICE.id }, 'BLE demo: simulated coffee maker on a simulated radio');
    return { driver: createBleDriver({ bindings: coffee.radio }), devices: [{ ...COFFEE_DEMO_DEVICE }], cleanup: () => coffee.stop() };
  }, options);
}

/** What the CLI starts for BLE: the demo's coffee maker, or configured `ble` devices; otherwise nothing. */
export function bleStarters(config: { readonly devices: readonly { driver: string }[] }, options: BleStarterOptions = {}): DriverStarterLike[] {
  return wantsDriver('ble', config, options.demo) ? [bleStarter(options)] : [];
}

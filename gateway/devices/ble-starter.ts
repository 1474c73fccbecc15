/**
 * The BLE driver as a gateway driver starter. With `demo`, the driver runs on the
 * simulated radio of a coffee maker (noble through our bindings); otherwise noble's
 * own HCI bindings are loaded, and without an adapter the driver says so and the
 * rest of the gateway keeps running.
 */
import { createBleDriver } from '../../drivers/ble/index.js';
import { COFFEE_DEMO_DEVICE, createSimulatedCoffeeMaker, type SimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import { deviceStarters, type DriverStarterLike, type StarterContextLike } from './starters.js';

export interface BleStarterOptions {
  /** Run the simulated coffee maker (`pasarela --demo`). */
  demo?: boolean;
  /** Simulated time runs this many times faster (default 1: a cup takes about 8 s). */
  speed?: number;
  /** Deadline of reads, writes and actions. */
  deadlineMs?: number;
}

export function bleStarter(options: BleStarterOptions = {}): DriverStarterLike {
  return {
    name: 'ble',
    async start(context: StarterContextLike) {
      let coffee: SimulatedCoffeeMaker | undefined;
      let devices = context.devices;
      if (options.demo) {
        coffee = createSimulatedCoffeeMaker({ speed: options.speed ?? 1 });
        if (!devices.some((device) => device.id === COFFEE_DEMO_DEVICE.id)) devices = [...devices, { ...COFFEE_DEMO_DEVICE }];
        context.logger.info({ device: COFFEE_DEMO_DEVICE.id }, 'BLE demo: simulated coffee maker on a simulated radio');
      }
      const driver = createBleDriver(coffee ? { bindings: coffee.radio } : {});
      const [starter] = deviceStarters([driver], options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs });
      try {
        const running = await starter!.start({ ...context, devices });
        return {
          name: 'ble',
          async stop() {
            try {
              await running.stop();
            } finally {
              coffee?.stop();
            }
          },
        };
      } catch (error) {
        coffee?.stop();
        throw error;
      }
    },
  };
}

/** What the CLI starts for BLE: the demo's coffee maker, or configured `ble` devices; otherwise nothing. */
export function bleStarters(config: { readonly devices: readonly { driver: string }[] }, options: BleStarterOptions = {}): DriverStarterLike[] {
  const wanted = options.demo === true || config.devices.some((device) => device.driver === 'ble');
  return wanted ? [bleStarter(options)] : [];
}

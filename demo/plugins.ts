/**
 * What `pasarela --demo` runs: the MQTT, BLE and serial plugins with simulated
 * devices behind them. MQTT gets the embedded broker (or the configured one) and the
 * simulated sensors; BLE gets the coffee maker on a simulated radio; serial gets the
 * robot on a PTY pair or a virtual port. Configured devices of each driver run too.
 * Only the command imports this folder, and only when `--demo` is given.
 */
import { createBleDriver } from '../drivers/ble/index.js';
import { createSerialDriver } from '../drivers/serial/index.js';
import { createSimulatedCoffeeMaker } from '../firmware-sim/coffee-maker/index.js';
import { createSimulatedSensorTag } from '../firmware-sim/sensor-tag/index.js';
import type { GatewayPlugin } from '../gateway/plugin.js';
import { preparedDriverPlugin } from '../gateway/plugins/driver-plugin.js';
import { mqttPlugin } from '../gateway/plugins/mqtt-plugin.js';
import { startRobotDemo } from './robot-demo.js';
import { startSensorDemo } from './sensor-demo.js';

/** The demo's config entry for the coffee maker: found by its advertised name, served with its profile. */
export const COFFEE_DEMO_DEVICE = { id: 'coffee', driver: 'ble', profile: 'coffee-maker', name: 'Cafetera' } as const;
/** The sensor tag that speaks JSTP over BLE: no profile, it describes itself. */
export const TAG_DEMO_DEVICE = { id: 'tag', driver: 'ble', name: 'JSTP Tag' } as const;

export interface DemoOptions {
  /** The embedded broker's port (default 1883, or a free one when that is taken; 0 = any free port). */
  brokerPort?: number;
  /** Telemetry period of the simulated sensors (default 2000 ms). */
  sensorIntervalMs?: number;
  /** The coffee maker's clock runs this many times faster (default 1: a cup takes about 8 s). */
  coffeeSpeed?: number;
}

/** The simulated sensors on the plugin's broker; their devices join the configured ones. */
export function mqttDemoPlugin(options: DemoOptions = {}): GatewayPlugin {
  return mqttPlugin({
    ...(options.brokerPort === undefined ? {} : { brokerPort: options.brokerPort }),
    // The demo's devices are its own, so any port will do when 1883 is taken.
    anyFreeBrokerPort: true,
    alongside: async (url, context) => {
      const demo = await startSensorDemo({
        url,
        ...(options.sensorIntervalMs === undefined ? {} : { intervalMs: options.sensorIntervalMs }),
        logger: context.logger.child({ component: 'sensor-sim' }),
      });
      return { devices: demo.configEntries, stop: () => demo.stop() };
    },
  });
}

export function bleDemoPlugin(options: DemoOptions = {}): GatewayPlugin {
  return preparedDriverPlugin('ble', async (context) => {
    const coffee = createSimulatedCoffeeMaker({ speed: options.coffeeSpeed ?? 1 });
    const tag = createSimulatedSensorTag({ radio: coffee.radio, ...(options.sensorIntervalMs === undefined ? {} : { intervalMs: options.sensorIntervalMs }) });
    context.logger.info({ devices: [COFFEE_DEMO_DEVICE.id, TAG_DEMO_DEVICE.id] }, 'BLE demo: simulated coffee maker and JSTP sensor tag on a simulated radio');
    return {
      driver: createBleDriver({ bindings: coffee.radio }),
      devices: [{ ...COFFEE_DEMO_DEVICE }, { ...TAG_DEMO_DEVICE }],
      cleanup: () => {
        tag.stop();
        coffee.stop();
      },
    };
  });
}

export function serialDemoPlugin(): GatewayPlugin {
  return preparedDriverPlugin('serial', async (context) => {
    // A configured `rover` is the real one: no simulated robot beside it.
    if (context.config.devices.some((device) => device.id === 'rover')) return { driver: createSerialDriver() };
    const demo = await startRobotDemo({ logger: context.logger });
    const driver = createSerialDriver(demo.binding ? { binding: demo.binding } : {});
    return { driver, devices: [demo.device], cleanup: () => demo.close() };
  });
}

/** Every demo plugin, in the order the command starts them. */
export function demoPlugins(options: DemoOptions = {}): GatewayPlugin[] {
  return [mqttDemoPlugin(options), bleDemoPlugin(options), serialDemoPlugin()];
}

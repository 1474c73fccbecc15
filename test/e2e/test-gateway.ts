/**
 * A gateway for the dashboard's e2e test, composed of the real parts the demo uses:
 * the engine, the HTTP + WebSocket transport serving the built page, the device
 * registry, the BLE driver with the simulated coffee maker, and a small sensor
 * driver that reports a changing temperature. It can be stopped and started again on
 * the same port, as a gateway restart looks to a browser.
 */
import { createBleDriver } from '../../drivers/ble/index.js';
import type { DeviceHandle, Driver } from '../../drivers/driver.js';
import { COFFEE_DEMO_DEVICE, createSimulatedCoffeeMaker, type SimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import { deviceStarters } from '../../gateway/devices/index.js';
import { createStaticHandler } from '../../gateway/http-static.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { WsTransport } from '../../gateway/transports/ws.js';

/** A thermometer whose reading moves on a timer, like the demo's MQTT room sensor. */
function thermometer(intervalMs: number): Driver {
  let timer: ReturnType<typeof setInterval> | undefined;
  let device: DeviceHandle | undefined;
  return {
    name: 'mqtt',
    async start(context) {
      device = context.addDevice(
        {
          key: 'home/living-room',
          id: 'living-room',
          title: 'Living room',
          model: 'room-sensor',
          properties: {
            temperature: { type: 'number', unit: '°C' },
            humidity: { type: 'number', unit: '%', minimum: 0, maximum: 100 },
            interval: { type: 'integer', unit: 'ms', minimum: 100, writable: true },
          },
        },
        {
          writeProperty: async (name, value) => {
            if (name === 'interval') return value;
            throw new Error(`cannot write ${name}`);
          },
        },
      );
      device.setOnline(true);
      let step = 0;
      const report = (): void => {
        step++;
        device?.reportProperty('temperature', Math.round((21 + Math.sin(step / 3)) * 100) / 100);
        device?.reportProperty('humidity', Math.round((45 + Math.cos(step / 5) * 3) * 10) / 10);
      };
      report();
      device.reportProperty('interval', intervalMs);
      timer = setInterval(report, intervalMs);
    },
    async stop() {
      if (timer) clearInterval(timer);
      device?.setOnline(false);
    },
  };
}

export interface TestGateway {
  readonly port: number;
  readonly coffee: SimulatedCoffeeMaker;
  close(): Promise<void>;
}

/** Starts it on `port` (0: a free one). */
export async function startTestGateway(port = 0): Promise<TestGateway> {
  const engine = new Engine({ answerTimeoutMs: 10_000 });
  const ws = new WsTransport({ engine, port, closeTimeoutMs: 1_000, onRequest: createStaticHandler() });
  const address = await ws.listen();
  // The coffee maker runs 5 times faster than life: a small cup takes about a second.
  const coffee = createSimulatedCoffeeMaker({ speed: 5 });
  const config = { devices: [COFFEE_DEMO_DEVICE] };
  const starters = deviceStarters([
    createBleDriver({ bindings: coffee.radio, connectTimeoutMs: 2_000, operationTimeoutMs: 5_000, reconnect: { initialMs: 10, maxMs: 100 } }),
    thermometer(300),
  ]);
  const running: { stop(): Promise<void> }[] = [];
  for (const starter of starters) {
    const devices = config.devices.filter((device) => device.driver === starter.name);
    running.push(await starter.start({ engine, logger: silentLogger(), config, devices }));
  }
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    coffee,
    close() {
      closing ??= (async () => {
        for (const driver of running.reverse()) await driver.stop();
        await ws.close();
        coffee.stop();
        engine.close();
      })();
      return closing;
    },
  };
}

/**
 * A gateway for the dashboard's e2e test, composed of the real parts the demo uses:
 * the engine, the HTTP + WebSocket transport serving the built page, the device
 * registry, the BLE driver with the simulated coffee maker, a small sensor driver
 * that reports a changing temperature, and a small robot driver. It can be stopped and started again on
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

/**
 * A robot on the `serial` driver's seam: pose, move/rotate/stop with progress and
 * done events, the shape the demo's robot describes itself with.
 */
function robot(): Driver {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let device: DeviceHandle | undefined;
  const pose = { x: 0, y: 0, heading: 0 };
  const later = (ms: number, work: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      work();
    }, ms);
    timers.add(timer);
  };
  /** Runs an action in three progress steps, then reports the new pose. */
  const perform = (action: 'move' | 'rotate', apply: () => void): void => {
    device?.reportProperty('state', action === 'move' ? 'moving' : 'rotating');
    for (const done of [0.25, 0.5, 0.75]) later(done * 200, () => device?.reportEvent('progress', { action, done }));
    later(200, () => {
      apply();
      device?.reportProperty('pose', { ...pose });
      device?.reportProperty('state', 'idle');
      device?.reportEvent('done', { action, completed: true });
    });
  };
  const distance = { type: 'number', minimum: -10, maximum: 10, description: 'metres' } as const;
  const angle = { type: 'number', minimum: -360, maximum: 360, description: 'degrees' } as const;
  return {
    name: 'serial',
    async start(context) {
      device = context.addDevice(
        {
          key: '/dev/ttyROBOT',
          id: 'rover',
          title: 'Rover',
          model: 'pasarela-robot',
          properties: {
            battery: { type: 'integer', unit: '%', minimum: 0, maximum: 100 },
            pose: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' }, heading: { type: 'number' } } },
            state: { type: 'string', enum: ['idle', 'moving', 'rotating'] },
          },
          actions: {
            move: { title: 'Move straight', input: { type: 'object', properties: { distance }, required: ['distance'] } },
            rotate: { title: 'Turn on the spot', input: { type: 'object', properties: { angle }, required: ['angle'] } },
            stop: { title: 'Stop' },
          },
          events: { progress: {}, done: {} },
        },
        {
          invokeAction: async (name, input) => {
            const body = input as { distance?: number; angle?: number } | undefined;
            if (name === 'move') {
              const radians = (pose.heading * Math.PI) / 180;
              perform('move', () => {
                pose.x = Math.round((pose.x + Math.cos(radians) * body!.distance!) * 1000) / 1000;
                pose.y = Math.round((pose.y + Math.sin(radians) * body!.distance!) * 1000) / 1000;
              });
              return { etaMs: 200 };
            }
            if (name === 'rotate') {
              perform('rotate', () => {
                pose.heading = (((pose.heading + body!.angle!) % 360) + 360) % 360;
              });
              return { etaMs: 200 };
            }
            return { interrupted: false };
          },
        },
      );
      device.setOnline(true);
      device.reportProperty('battery', 80);
      device.reportProperty('pose', { ...pose });
      device.reportProperty('state', 'idle');
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
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
  // Two registries, as when drivers are started by separate starters: the page merges
  // the device lists both answer.
  const starters = [
    ...deviceStarters([
      createBleDriver({ bindings: coffee.radio, connectTimeoutMs: 2_000, operationTimeoutMs: 5_000, reconnect: { initialMs: 10, maxMs: 100 } }),
    ]),
    ...deviceStarters([thermometer(300), robot()]),
  ];
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

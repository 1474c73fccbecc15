/**
 * A driver and simulator that live in memory: the contract suite's own check, under
 * vitest and under node --test. The simulator is an instance with its own timer; the
 * driver reaches it only through its methods and events.
 */
import { EventEmitter } from 'node:events';
import type { DeviceHandle, Driver } from '../../drivers/driver.js';
import { errors } from '../../gateway/jstp/errors.js';
import type { DriverHarness } from '../../testing/index.js';

export class SimulatedLamp extends EventEmitter<{ reading: [number]; power: [boolean]; brightness: [number] }> {
  brightness = 50;
  temperature = 21;
  powered = true;
  unresponsive = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  start(intervalMs = 20): void {
    this.timer ??= setInterval(() => {
      if (!this.powered) return;
      this.temperature = Math.round((this.temperature + 0.1) * 10) / 10;
      this.emit('reading', this.temperature);
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  setPowered(powered: boolean): void {
    this.powered = powered;
    this.emit('power', powered);
  }

  /** Resolves when the lamp has applied the value; never while unresponsive (until aborted). */
  setBrightness(value: number, signal: AbortSignal): Promise<number> {
    return this.command(signal, () => {
      this.brightness = value;
      this.emit('brightness', value);
      return value;
    });
  }

  blink(times: number, signal: AbortSignal): Promise<{ blinked: number }> {
    return this.command(signal, () => ({ blinked: times }));
  }

  private command<T>(signal: AbortSignal, apply: () => T): Promise<T> {
    if (!this.powered) return Promise.reject(errors.deviceOffline('lamp is off'));
    if (!this.unresponsive) return Promise.resolve(apply());
    return new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

export function memoryDriver(lamp: SimulatedLamp): Driver {
  let device: DeviceHandle | undefined;
  const onReading = (value: number) => device?.reportProperty('temperature', value);
  const onPower = (on: boolean) => device?.setOnline(on);
  const onBrightness = (value: number) => device?.reportProperty('brightness', value);
  return {
    name: 'memory',
    async start(context) {
      device = context.addDevice(
        {
          key: 'lamp-1',
          id: 'lamp',
          title: 'Lamp',
          properties: {
            temperature: { type: 'number', unit: '°C' },
            brightness: { type: 'integer', minimum: 0, maximum: 100, unit: '%', writable: true },
          },
          actions: { blink: { input: { type: 'object', properties: { times: { type: 'integer', minimum: 1 } }, required: ['times'] } } },
        },
        {
          writeProperty: (_name, value, signal) => lamp.setBrightness(value as number, signal),
          invokeAction: (_name, input, signal) => lamp.blink((input as { times: number }).times, signal),
        },
      );
      lamp.on('reading', onReading).on('power', onPower).on('brightness', onBrightness);
      device.reportProperty('brightness', lamp.brightness);
      device.setOnline(lamp.powered);
    },
    async stop() {
      lamp.off('reading', onReading).off('power', onPower).off('brightness', onBrightness);
      device = undefined;
    },
  };
}

/**
 * The contract harness of the memory driver: a lamp of its own, its driver (or one
 * `wrap` makes of it, with a flaw), and the members the suite exercises.
 */
export function memoryHarness(options: { wrap?: (driver: Driver) => Driver; withAction?: boolean; close?: () => void } = {}): DriverHarness {
  const lamp = new SimulatedLamp();
  lamp.start();
  const driver = memoryDriver(lamp);
  return {
    driver: options.wrap ? options.wrap(driver) : driver,
    subject: {
      id: 'lamp',
      reported: 'temperature',
      writable: { name: 'brightness', value: 80, invalid: 101 },
      readOnly: 'temperature',
      ...(options.withAction === false ? {} : { action: { name: 'blink', input: { times: 2 }, invalidInput: { times: 0 } } }),
    },
    setDeviceOnline: async (online) => lamp.setPowered(online),
    setDeviceUnresponsive: async (unresponsive) => void (lamp.unresponsive = unresponsive),
    close: async () => {
      lamp.stop();
      options.close?.();
    },
  };
}

/**
 * A device gate on the driver host, with a real registry and engine: an entry the
 * gate holds back is not given to its driver; when the gate lets it in, the driver
 * starts again with it, keeping the other devices (same ids, last values); when the
 * gate takes it away, its device leaves the registry. Changes that come while the
 * driver starts wait for the start; a failed driver takes them at its restart; none
 * comes through after the host stopped it.
 */
import { AsyncResource } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceConfig, Driver, DriverContext } from '../../drivers/driver.js';
import { DeviceRegistry } from '../../gateway/devices/registry.js';
import type { DeviceGate } from '../../gateway/driver-host/device-gate.js';
import { DriverHost } from '../../gateway/driver-host/driver-host.js';
import { claimDriverFault } from '../../gateway/driver-host/fault-scope.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { until } from '../support/until.js';

/** A gate that admits what the test says (the fleet's is in gateway/fleet/standby.ts). */
class ListGate implements DeviceGate {
  private readonly listeners = new Set<() => void>();
  constructor(private readonly held: Set<string>) {}
  admits(device: DeviceConfig): boolean {
    return !this.held.has(device.id);
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(id: string, held: boolean): void {
    if (held) this.held.add(id);
    else this.held.delete(id);
    for (const listener of this.listeners) listener();
  }
}

/** A driver that adds one online device per entry; records the ids of each start. */
function sensors(startDelayMs = 0): { driver: Driver; starts: string[][]; stops: number } {
  const state = {
    starts: [] as string[][],
    stops: 0,
    driver: {
      name: 'sensors',
      async start(context: DriverContext) {
        state.starts.push(context.devices.map((device) => device.id));
        await new Promise((resolve) => setTimeout(resolve, startDelayMs));
        for (const entry of context.devices) {
          const handle = context.addDevice({ key: String(entry.key), id: entry.id, properties: { level: { type: 'integer' } } }, {});
          handle.setOnline(true);
          if (entry.id === 'hall') handle.reportProperty('level', state.starts.length);
        }
      },
      async stop() {
        state.stops++;
      },
    } satisfies Driver,
  };
  return state;
}

const ENTRIES: DeviceConfig[] = [
  { id: 'hall', driver: 'sensors', key: 'k-hall' },
  { id: 'shared', driver: 'sensors', key: 'k-shared', standby: true },
];

let engine: Engine;
let stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  engine?.close();
});

async function host(gate: ListGate, startDelayMs = 0) {
  engine = new Engine();
  const registry = new DeviceRegistry({ engine, devices: ENTRIES });
  const drivers = new DriverHost({ registry, logger: silentLogger() });
  drivers.gate(gate);
  const driver = sensors(startDelayMs);
  stops.push(await drivers.run(driver.driver, { devices: ENTRIES, options: {}, source: { origin: 'built-in' } }));
  return { registry, driver, drivers };
}

const ids = (registry: DeviceRegistry): string[] => registry.list().map((device) => device.id).sort();

describe('a device gate', () => {
  it('runs a held-back entry only once the gate lets it in, and removes its device when it is taken away', async () => {
    const gate = new ListGate(new Set(['shared']));
    const { registry, driver } = await host(gate);
    expect(driver.starts).toEqual([['hall']]);
    expect(ids(registry)).toEqual(['hall']);

    gate.set('shared', false);
    await until(() => ids(registry).length === 2, 'the shared device to be added');
    expect(driver.starts).toEqual([['hall'], ['hall', 'shared']]);
    expect(driver.stops).toBe(1);
    expect(registry.list().every((device) => device.online)).toBe(true);
    // The other device kept its id and took its new value.
    expect(registry.values('hall').level?.value).toBe(2);

    gate.set('shared', true);
    await until(() => driver.starts.length === 3, 'the third start');
    await until(() => ids(registry).join() === 'hall', 'the shared device to leave');
    expect(driver.starts[2]).toEqual(['hall']);
  });

  it('waits for a start in flight, and lets nothing through once the driver stopped', async () => {
    const gate = new ListGate(new Set(['shared']));
    engine = new Engine();
    const registry = new DeviceRegistry({ engine, devices: ENTRIES });
    const drivers = new DriverHost({ registry, logger: silentLogger() });
    drivers.gate(gate);
    const driver = sensors(150);
    const running = drivers.run(driver.driver, { devices: ENTRIES, options: {}, source: { origin: 'built-in' } });
    // Arrives while the first start is still going on.
    await new Promise((resolve) => setTimeout(resolve, 20));
    gate.set('shared', false);
    const stop = await running;
    await until(() => driver.starts.length === 2 && ids(registry).length === 2, 'the second start, after the first');
    expect(driver.starts).toEqual([['hall'], ['hall', 'shared']]);

    await stop();
    gate.set('shared', true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(driver.starts.length).toBe(2);
    expect(ids(registry)).toEqual([]);
  });

  it('starts nothing again when the admitted entries are the same', async () => {
    const gate = new ListGate(new Set());
    const { driver } = await host(gate);
    gate.set('nobody', true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(driver.starts.length).toBe(1);
    expect(driver.stops).toBe(0);
  });

  it('gives a failed driver the new list at its restart, and removes the device taken away at once', async () => {
    const gate = new ListGate(new Set());
    engine = new Engine();
    const registry = new DeviceRegistry({ engine, devices: ENTRIES });
    const drivers = new DriverHost({ registry, logger: silentLogger() });
    drivers.gate(gate);
    const starts: string[][] = [];
    let fail: (() => boolean) | undefined;
    const driver: Driver = {
      name: 'flaky',
      async start(context) {
        starts.push(context.devices.map((device) => device.id));
        for (const entry of context.devices) context.addDevice({ key: String(entry.key), id: entry.id }, {}).setOnline(true);
        // Raised later from the driver's own code, as a timer of its would.
        fail = AsyncResource.bind(() => claimDriverFault(new Error('the flaky driver broke'), 'uncaught exception'));
      },
      async stop() {},
    };
    const entries = ENTRIES.map((entry) => ({ ...entry, driver: 'flaky' }));
    stops.push(await drivers.run(driver, { devices: entries, options: {}, source: { origin: 'file', module: './flaky.js' }, restart: { initialMs: 300, maxMs: 300, jitter: 0 } }));
    expect(ids(registry)).toEqual(['hall', 'shared']);
    expect(fail!()).toBe(true);
    await until(() => registry.list().every((device) => !device.online), 'its devices to go offline');
    gate.set('shared', true);
    await until(() => ids(registry).join() === 'hall', 'the shared device to leave while the driver is failed');
    await until(() => starts.length === 2, 'the restart', 5_000);
    expect(starts[1]).toEqual(['hall']);
    await until(() => registry.list()[0]?.online === true, 'the hall device back online');
  });
});

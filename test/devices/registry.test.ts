/**
 * The registry through the engine, as a JSTP peer sees it: statuses, PATCH on change
 * only, events, availability, ids (derived, preferred, renamed, disambiguated, stable),
 * and deadlines that abort the driver's signal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceHandle, DeviceHandlers, DeviceInfo } from '../../drivers/driver.js';
import { derivedId, slug } from '../../gateway/devices/ids.js';
import { DeviceRegistry } from '../../gateway/devices/registry.js';
import { bindDeviceResources } from '../../gateway/devices/resources.js';
import type { RegularMethod, ResourceElement } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode, errors } from '../../gateway/jstp/errors.js';

let engine: Engine;
let registry: DeviceRegistry;
let seen: { method: string; resource: readonly ResourceElement[]; body: unknown }[];

function setup(options: { deadlineMs?: number; devices?: { id: string; driver: string; key?: string }[] } = {}): void {
  engine = new Engine({ answerTimeoutMs: 5_000 });
  registry = new DeviceRegistry({ engine, deadlineMs: options.deadlineMs ?? 2_000, devices: options.devices ?? [] });
  bindDeviceResources(engine, registry);
  seen = [];
  // Only what the registry emits: binding POST on actions would make every action wait for us too.
  const observe = (method: 'PATCH' | 'POST', resource: string[]) =>
    engine.bind({ method, resource }, (incoming) => {
      seen.push({ method, resource: incoming.resource, body: incoming.body });
      return undefined;
    });
  observe('PATCH', ['devices', '...']);
  observe('POST', ['devices', '*', 'events', '*']);
}

async function call(method: RegularMethod, resource: ResourceElement[], body?: unknown) {
  const [answer] = await engine.request(method, resource, body).all();
  return { status: answer!.status, body: answer!.body };
}

const THERMOSTAT: DeviceInfo = {
  key: 'aa:bb:cc:dd:ee:ff',
  title: 'Thermostat',
  model: 'thermo',
  properties: {
    temperature: { type: 'number', unit: '°C' },
    setpoint: { type: 'number', minimum: 5, maximum: 30, writable: true },
    firmware: { type: 'string', observable: false },
  },
  actions: { boost: { input: { type: 'object', properties: { minutes: { type: 'integer', minimum: 1 } }, required: ['minutes'] } }, reset: {} },
  events: { alarm: { data: { type: 'string' } } },
};

function addThermostat(handlers: DeviceHandlers = {}, info: DeviceInfo = THERMOSTAT, driver = 'ble'): DeviceHandle {
  return registry.context(driver).addDevice(info, handlers);
}

afterEach(() => engine.close());

describe('resources', () => {
  beforeEach(() => setup());

  it('lists devices and describes one', async () => {
    const device = addThermostat();
    device.setOnline(true);
    expect(await call('GET', ['devices'])).toEqual({
      status: 200,
      body: [{ id: 'ble-aa-bb-cc-dd-ee-ff', driver: 'ble', online: true, title: 'Thermostat', model: 'thermo' }],
    });
    const details = await call('GET', ['devices', device.id]);
    expect(details.body).toMatchObject({ id: device.id, online: true, properties: THERMOSTAT.properties, actions: THERMOSTAT.actions, events: THERMOSTAT.events });
    expect(await call('GET', ['devices', 'nobody'])).toMatchObject({ status: 404, body: { code: ErrorCode.DeviceNotFound } });
  });

  it('emits PATCH only when a value changes, serves the last value, and lists values', async () => {
    const device = addThermostat();
    device.setOnline(true);
    device.reportProperty('temperature', 21.5, 1000);
    device.reportProperty('temperature', 21.5, 2000);
    device.reportProperty('temperature', 21.7, 3000);
    device.reportProperty('temperature', 20, 2500); // older than what we have: ignored
    const patches = seen.filter((entry) => entry.resource[2] === 'properties');
    expect(patches.map((entry) => entry.body)).toEqual([
      { value: 21.5, at: 1000 },
      { value: 21.7, at: 3000 },
    ]);
    expect(await call('GET', ['devices', device.id, 'properties', 'temperature'])).toEqual({ status: 200, body: 21.7 });
    expect(await call('GET', ['devices', device.id, 'properties'])).toEqual({ status: 200, body: { temperature: { value: 21.7, at: 3000 } } });
  });

  it('reads from the device when the property is not observable, or has no value yet', async () => {
    const reads: string[] = [];
    const device = addThermostat({ readProperty: async (name) => (reads.push(name), name === 'firmware' ? '1.2.0' : 19) });
    device.setOnline(true);
    device.reportProperty('firmware', '1.0.0');
    expect(await call('GET', ['devices', device.id, 'properties', 'firmware'])).toEqual({ status: 200, body: '1.2.0' });
    expect(await call('GET', ['devices', device.id, 'properties', 'temperature'])).toEqual({ status: 200, body: 19 });
    expect(await call('GET', ['devices', device.id, 'properties', 'temperature'])).toEqual({ status: 200, body: 19 });
    expect(reads).toEqual(['firmware', 'temperature']);
  });

  it('answers PUT with the confirmed value; 403 read-only, 400 bad value, 404 unknown, 501 without a handler', async () => {
    const writes: unknown[] = [];
    const device = addThermostat({ writeProperty: async (_name, value) => (writes.push(value), Math.round(value as number)) });
    device.setOnline(true);
    expect(await call('PUT', ['devices', device.id, 'properties', 'setpoint'], 21.4)).toEqual({ status: 200, body: 21 });
    expect(seen.at(-1)).toMatchObject({ method: 'PATCH', resource: ['devices', device.id, 'properties', 'setpoint'], body: { value: 21 } });
    expect(await call('PUT', ['devices', device.id, 'properties', 'temperature'], 30)).toMatchObject({ status: 403, body: { code: ErrorCode.ReadOnly } });
    expect(await call('PUT', ['devices', device.id, 'properties', 'setpoint'], 40)).toMatchObject({ status: 400, body: { error: 'setpoint: value: expected a number from 5 to 30, got 40' } });
    expect(await call('PUT', ['devices', device.id, 'properties', 'setpoint'], '21')).toMatchObject({ status: 400 });
    expect(await call('PUT', ['devices', device.id, 'properties', 'colour'], 1)).toMatchObject({ status: 404 });
    expect(writes).toEqual([21.4]);
    const readOnlyDriver = addThermostat({}, { ...THERMOSTAT, key: 'other' });
    readOnlyDriver.setOnline(true);
    expect(await call('PUT', ['devices', readOnlyDriver.id, 'properties', 'setpoint'], 20)).toMatchObject({ status: 501 });
  });

  it('invokes actions with validated input; driver errors keep their status, others answer 500', async () => {
    const device = addThermostat({
      invokeAction: async (name, input) => {
        if (name === 'reset') throw errors.notSupported('no reset on this model');
        return { boosting: (input as { minutes: number }).minutes };
      },
    });
    device.setOnline(true);
    expect(await call('POST', ['devices', device.id, 'actions', 'boost'], { minutes: 5 })).toEqual({ status: 200, body: { boosting: 5 } });
    expect(await call('POST', ['devices', device.id, 'actions', 'boost'], { minutes: 0 })).toMatchObject({ status: 400, body: { error: 'boost: input.minutes: expected an integer of at least 1, got 0' } });
    expect(await call('POST', ['devices', device.id, 'actions', 'boost'])).toMatchObject({ status: 400 });
    expect(await call('POST', ['devices', device.id, 'actions', 'reset'])).toMatchObject({ status: 501, body: { error: 'no reset on this model' } });
    expect(await call('POST', ['devices', device.id, 'actions', 'fly'])).toMatchObject({ status: 404 });
    const broken = addThermostat({ invokeAction: async () => Promise.reject(new Error('bug')) }, { ...THERMOSTAT, key: 'broken' });
    broken.setOnline(true);
    expect(await call('POST', ['devices', broken.id, 'actions', 'reset'])).toEqual({ status: 500, body: { error: 'bug' } });
  });

  it('answers 502 while the device is offline and emits availability changes once', async () => {
    let called = false;
    const device = addThermostat({ writeProperty: async () => ((called = true), 20), invokeAction: async () => ((called = true), null) });
    device.reportProperty('temperature', 20);
    expect(await call('GET', ['devices', device.id, 'properties', 'temperature'])).toMatchObject({ status: 502, body: { code: ErrorCode.DeviceOffline } });
    expect(await call('PUT', ['devices', device.id, 'properties', 'setpoint'], 20)).toMatchObject({ status: 502 });
    expect(await call('POST', ['devices', device.id, 'actions', 'boost'], { minutes: 1 })).toMatchObject({ status: 502 });
    expect(called).toBe(false);
    device.setOnline(true);
    device.setOnline(true);
    device.setOnline(false);
    expect(seen.filter((entry) => entry.resource.length === 2).map((entry) => entry.body)).toEqual([{ online: true }, { online: false }]);
  });

  it('raises events as POST and removes devices (a stale handle does nothing)', async () => {
    const device = addThermostat();
    device.setOnline(true);
    device.reportEvent('alarm', 'too hot', 42);
    expect(seen.at(-1)).toEqual({ method: 'POST', resource: ['devices', device.id, 'events', 'alarm'], body: { data: 'too hot', at: 42 } });
    device.remove();
    expect(seen.at(-1)).toEqual({ method: 'PATCH', resource: ['devices', device.id], body: { online: false, removed: true } });
    const count = seen.length;
    device.reportProperty('temperature', 1);
    device.reportEvent('alarm');
    device.setOnline(true);
    expect(seen).toHaveLength(count);
    expect(await call('GET', ['devices', device.id])).toMatchObject({ status: 404 });
  });

  it('replaces the description of a key added again, keeping its id', () => {
    const first = addThermostat();
    const second = addThermostat({}, { ...THERMOSTAT, title: 'Hall thermostat' });
    expect(second.id).toBe(first.id);
    expect(registry.details(first.id).title).toBe('Hall thermostat');
    second.describe({ title: 'Described', properties: {} });
    expect(registry.details(first.id)).toMatchObject({ title: 'Described', properties: {} });
  });

  it('tells watchers when a device is added, described again and removed; a failing watcher stops none of it', () => {
    const changes: string[] = [];
    registry.watch(() => {
      throw new Error('a broken watcher');
    });
    const stop = registry.watch((change) => changes.push(`${change.kind} ${change.id}`));
    const handle = addThermostat();
    handle.describe({ ...THERMOSTAT, title: 'Hall thermostat' });
    addThermostat({}, { ...THERMOSTAT, title: 'Thermostat again' });
    handle.setOnline(true);
    handle.remove();
    handle.describe(THERMOSTAT);
    expect(changes).toEqual([`added ${handle.id}`, `described ${handle.id}`, `described ${handle.id}`, `removed ${handle.id}`]);
    stop();
    addThermostat();
    expect(changes).toHaveLength(4);
  });

  it('drops reports quietly once the engine is closed', () => {
    const device = addThermostat();
    engine.close();
    expect(() => {
      device.reportProperty('temperature', 3);
      device.reportEvent('alarm');
      device.setOnline(true);
    }).not.toThrow();
  });
});

describe('deadlines', () => {
  beforeEach(() => setup({ deadlineMs: 50 }));

  it('answers 504 when the driver does not answer in time, and aborts its signal', async () => {
    let aborted: unknown;
    const device = addThermostat({
      writeProperty: (_name, _value, signal) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject((aborted = signal.reason)))),
      // Ignores its signal: the caller still gets its 504.
      invokeAction: () => new Promise(() => {}),
    });
    device.setOnline(true);
    expect(await call('PUT', ['devices', device.id, 'properties', 'setpoint'], 20)).toMatchObject({ status: 504, body: { code: ErrorCode.DeviceTimeout } });
    expect(aborted).toMatchObject({ status: 504 });
    expect(await call('POST', ['devices', device.id, 'actions', 'boost'], { minutes: 1 })).toMatchObject({ status: 504 });
  });
});

describe('ids', () => {
  it('derives readable ids from driver and key', () => {
    expect(slug('AA:BB:CC')).toBe('aa-bb-cc');
    expect(slug('/dev/ttyUSB0')).toBe('dev-ttyusb0');
    expect(slug('***')).toBe('device');
    expect(derivedId('mqtt', 'home/kitchen')).toBe('mqtt-home-kitchen');
  });

  it('prefers the config rename, then the id the driver proposes, then the derived one', () => {
    setup({ devices: [{ id: 'hall', driver: 'ble', key: 'aa:bb:cc:dd:ee:ff' }] });
    expect(addThermostat().id).toBe('hall');
    expect(addThermostat({}, { ...THERMOSTAT, key: 'k2', id: 'kitchen' }).id).toBe('kitchen');
    expect(addThermostat({}, { ...THERMOSTAT, key: 'k3' }).id).toBe('ble-k3');
    // The same key on another driver is another device.
    expect(addThermostat({}, THERMOSTAT, 'mqtt').id).toBe('mqtt-aa-bb-cc-dd-ee-ff');
  });

  it('disambiguates a clash with a hash that is the same on every start', () => {
    const ids: string[][] = [];
    for (let run = 0; run < 2; run++) {
      setup();
      const first = addThermostat({}, { ...THERMOSTAT, key: 'k1', id: 'lamp' });
      const second = addThermostat({}, { ...THERMOSTAT, key: 'k2', id: 'lamp' });
      ids.push([first.id, second.id]);
      engine.close();
    }
    expect(ids[0]![0]).toBe('lamp');
    expect(ids[0]![1]).toMatch(/^lamp-[0-9a-f]{6}$/);
    expect(ids[1]).toEqual(ids[0]);
  });

  it('gives a removed device its id back when it returns', () => {
    setup();
    const first = addThermostat({}, { ...THERMOSTAT, key: 'k1', id: 'lamp' });
    first.remove();
    const squatter = addThermostat({}, { ...THERMOSTAT, key: 'k2', id: 'other' });
    const again = addThermostat({}, { ...THERMOSTAT, key: 'k1', id: 'lamp' });
    expect(again.id).toBe('lamp');
    expect(squatter.id).toBe('other');
  });
});

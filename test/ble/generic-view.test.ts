/**
 * Devices without a profile (the generic GATT view) and the scan filters that let
 * unconfigured devices in, with a profile when their advertisement matches one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CoffeeUuids, createSimulatedCoffeeMaker, type SimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import { isOnline, isProperty, startBench, type BleBench, type LogLine } from './helpers.js';
import { ALERT, COMMAND, REGISTER, TAG_ADDRESS, addSensorTag, type SensorTag } from './sensor-tag.js';

let bench: BleBench | undefined;

afterEach(async () => {
  await bench?.close();
  bench = undefined;
});

/** Polls the captured log (no timing assertion: bounded by the test's timeout). */
async function logged(lines: LogLine[], accept: (line: LogLine) => boolean): Promise<LogLine> {
  for (;;) {
    const line = lines.find(accept);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('generic GATT view', () => {
  it('shows every characteristic as a hex property: readable, writable where allowed, notified where it notifies', async () => {
    let tag!: SensorTag;
    bench = await startBench({
      devices: [{ id: 'tag', driver: 'ble', address: TAG_ADDRESS }],
      extra: (coffee) => (tag = addSensorTag(coffee.radio)),
    });
    const { gateway, recorder } = bench;
    await recorder.until(isOnline(true));
    const details = await gateway.call('GET', ['devices', 'tag']);
    expect(details.body).toMatchObject({
      id: 'tag',
      model: 'generic-gatt',
      properties: {
        '2a6e': { type: 'string', title: 'Temperature', writable: false, observable: true },
        [REGISTER]: { type: 'string', writable: true, observable: false },
        [COMMAND]: { writable: true },
        [ALERT]: { writable: false, observable: true },
        '180f-2a19': { title: 'Battery Level' },
        'b000-2a19': { title: 'Battery Level' },
        rssi: { unit: 'dBm' },
      },
    });
    // The configured device has no profile: the coffee maker on the same radio is not it.
    expect((await gateway.call('GET', ['devices'])).body).toHaveLength(1);

    expect(await gateway.call('GET', ['devices', 'tag', 'properties', '2a6e'])).toEqual({ status: 200, body: '9808' });
    expect(await gateway.call('GET', ['devices', 'tag', 'properties', '180f-2a19'])).toEqual({ status: 200, body: '4d' });
    expect(await gateway.call('GET', ['devices', 'tag', 'properties', 'b000-2a19'])).toEqual({ status: 200, body: '21' });

    tag.gatt.notify('181a', '2a6e', Uint8Array.of(0x00, 0x09));
    await recorder.until(isProperty('2a6e', '0009'));

    expect(await gateway.call('PUT', ['devices', 'tag', 'properties', REGISTER], 'CAFE')).toEqual({ status: 200, body: 'cafe' });
    expect([...tag.register]).toEqual([0xca, 0xfe]);
    tag.register = Uint8Array.of(0xbe, 0xef);
    expect(await gateway.call('GET', ['devices', 'tag', 'properties', REGISTER])).toEqual({ status: 200, body: 'beef' });
    expect((await gateway.call('PUT', ['devices', 'tag', 'properties', REGISTER], 'xyz')).status).toBe(400);
    expect((await gateway.call('PUT', ['devices', 'tag', 'properties', '2a6e'], '00')).status).toBe(403);

    // A command goes without response, so it must fit one packet: MTU 23 leaves 20 bytes.
    expect((await gateway.call('PUT', ['devices', 'tag', 'properties', COMMAND], '00'.repeat(21))).status).toBe(400);
    expect((await gateway.call('PUT', ['devices', 'tag', 'properties', COMMAND], '0102')).status).toBe(200);
    expect(tag.commands.map((command) => [...command])).toEqual([[1, 2]]);

    // Notify-only: nothing to read until it notifies.
    expect((await gateway.call('GET', ['devices', 'tag', 'properties', ALERT])).status).toBe(501);
    tag.gatt.notify('c0de0000c0de4c0d9c0d0123456789ab', ALERT, Uint8Array.of(0xff));
    await recorder.until(isProperty(ALERT, 'ff'));
    expect(await gateway.call('GET', ['devices', 'tag', 'properties', ALERT])).toEqual({ status: 200, body: 'ff' });
  });
});

describe('scan filters', () => {
  it('adds unconfigured devices that advertise a filtered service, with the profile they match', async () => {
    bench = await startBench({
      devices: [],
      driver: { scan: { services: [CoffeeUuids.service, '181a'] } },
      extra: (coffee) => addSensorTag(coffee.radio, { address: 'aa:bb:cc:00:00:02', services: ['abcd'] }),
    });
    const { gateway, recorder, coffee } = bench;
    await recorder.until((entry) => isOnline(true)(entry) && entry.resource[1] === 'ble-c0-ff-ee-00-00-01');
    const details = await gateway.call('GET', ['devices', 'ble-c0-ff-ee-00-00-01']);
    expect(details.body).toMatchObject({ model: 'coffee-maker', title: 'Cafetera', online: true });
    expect((await gateway.call('POST', ['devices', 'ble-c0-ff-ee-00-00-01', 'actions', 'brew'], { size: 'small' })).status).toBe(200);
    // The tag advertises another service: noble's scan filter (in the bindings) never reports it.
    expect(coffee.radio.stats('aa:bb:cc:00:00:02').connects).toBe(0);
    expect((await gateway.call('GET', ['devices'])).body).toHaveLength(1);
  });

  it('filters by a name pattern; devices outside it are ignored, not connected', async () => {
    bench = await startBench({
      devices: [],
      driver: { scan: { name: '^Thermo' } },
      extra: (coffee) => {
        addSensorTag(coffee.radio, { address: 'aa:bb:cc:00:00:02', name: 'Thermo-2', services: ['abcd'] });
        addSensorTag(coffee.radio, { address: 'aa:bb:cc:00:00:03', name: 'Other', services: ['abcd'] });
      },
    });
    const { gateway, recorder, coffee, logs } = bench;
    await recorder.until((entry) => isOnline(true)(entry) && entry.resource[1] === 'ble-aa-bb-cc-00-00-02');
    expect((await gateway.call('GET', ['devices', 'ble-aa-bb-cc-00-00-02'])).body).toMatchObject({ model: 'generic-gatt', title: 'Thermo-2' });
    for (const address of ['aa:bb:cc:00:00:03', coffee.address]) {
      await logged(logs, (line) => line.msg.startsWith('BLE device ignored') && line.address === address);
      expect(coffee.radio.stats(address).connects).toBe(0);
    }
    expect((await gateway.call('GET', ['devices'])).body).toHaveLength(1);
  });

  it('matches a configured device by address and leaves its twin alone', async () => {
    let twin: SimulatedCoffeeMaker | undefined;
    try {
      bench = await startBench({
        devices: [{ id: 'second', driver: 'ble', profile: 'coffee-maker', address: 'c0:ff:ee:00:00:02' }],
        // A second coffee maker on the same radio, with the same name: only the address tells them apart.
        extra: (coffee) => (twin = createSimulatedCoffeeMaker({ radio: coffee.radio, address: 'c0:ff:ee:00:00:02', speed: 40 })),
      });
      const { gateway, recorder, coffee } = bench;
      await recorder.until((entry) => isOnline(true)(entry) && entry.resource[1] === 'second');
      expect((await gateway.call('POST', ['devices', 'second', 'actions', 'brew'], { size: 'small' })).status).toBe(200);
      expect(twin!.machine.snapshot().state).toBe('heating');
      expect(coffee.machine.snapshot().state).toBe('idle');
      expect(coffee.radio.stats(coffee.address).connects).toBe(0);
    } finally {
      twin?.stop();
    }
  });
});

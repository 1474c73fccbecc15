/**
 * The simulated radio under noble's own objects (with-bindings.js), no driver: what
 * noble sees is what a real HCI stack would give it. Also shows why the driver
 * serialises: noble cannot tell two answers on one characteristic apart.
 */
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { CoffeeUuids, DisconnectReason, GattServer, SimulatedRadio, createSimulatedCoffeeMaker, nobleUuid, type SimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import type { Noble, NobleCharacteristic, NoblePeripheral } from '../../drivers/ble/noble-types.js';

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings.js') as (bindings: SimulatedRadio) => Noble;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function coffeeOnNoble(options: Parameters<typeof createSimulatedCoffeeMaker>[0] = {}): { coffee: SimulatedCoffeeMaker; noble: Noble } {
  const coffee = createSimulatedCoffeeMaker({ speed: 50, ...options });
  cleanups.push(() => coffee.stop());
  return { coffee, noble: withBindings(coffee.radio) };
}

async function discover(noble: Noble, services: string[] = []): Promise<NoblePeripheral> {
  const found = once(noble, 'discover') as Promise<[NoblePeripheral]>;
  await once(noble, 'stateChange');
  noble.startScanning(services, false);
  return (await found)[0];
}

async function characteristicsOf(peripheral: NoblePeripheral): Promise<Map<string, NobleCharacteristic>> {
  const { characteristics } = await (peripheral as unknown as { discoverAllServicesAndCharacteristicsAsync(): Promise<{ characteristics: NobleCharacteristic[] }> }).discoverAllServicesAndCharacteristicsAsync();
  return new Map(characteristics.map((characteristic) => [characteristic.uuid, characteristic]));
}

const asyncOf = (target: object) => target as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

describe('SimulatedRadio under noble', () => {
  it('advertises, connects, exchanges the MTU and serves the coffee maker\'s GATT database', async () => {
    const { noble, coffee } = coffeeOnNoble();
    expect(noble.initialized).toBe(false);
    const peripheral = await discover(noble, [CoffeeUuids.service]);
    expect(peripheral).toMatchObject({ id: 'c0ffee000001', address: 'c0:ff:ee:00:00:01', rssi: -58 });
    expect(peripheral.advertisement).toMatchObject({ localName: 'Cafetera', serviceUuids: [nobleUuid(CoffeeUuids.service)] });
    // The MTU exchange follows the connection; noble listens to the same event.
    const exchanged = once(coffee.radio, 'onMtu');
    await asyncOf(peripheral).connectAsync!();
    await exchanged;
    expect(peripheral.mtu).toBe(185);
    const characteristics = await characteristicsOf(peripheral);
    expect(characteristics.get(nobleUuid(CoffeeUuids.state))?.properties).toEqual(['read', 'notify']);
    expect(characteristics.get('2a19')?.name).toBe('Battery Level');
    const water = (await asyncOf(characteristics.get(nobleUuid(CoffeeUuids.water))!).readAsync!()) as Buffer;
    expect([...water]).toEqual([100]);
    expect(await asyncOf(peripheral).updateRssiAsync!()).toBe(-58);
  });

  it('filters the scan by service, as noble\'s HCI bindings do', async () => {
    const { noble, coffee } = coffeeOnNoble();
    coffee.radio.addPeripheral({ address: '11:22:33:44:55:66', localName: 'Other', serviceUuids: ['abcd'], gatt: new GattServer([]) });
    const seen: string[] = [];
    noble.on('discover', (peripheral: NoblePeripheral) => seen.push(peripheral.advertisement.localName ?? ''));
    const radioSaw: string[] = [];
    coffee.radio.on('discover', (id: string) => radioSaw.push(id));
    await discover(noble, ['abcd']);
    // The radio itself reported only the matching peripheral: nothing more is coming.
    expect(radioSaw).toEqual(['112233445566']);
    expect(seen).toEqual(['Other']);
  });

  it('notifies only subscribed characteristics, cut to MTU - 3 bytes', async () => {
    const radio = new SimulatedRadio();
    cleanups.push(() => radio.close());
    const gatt = new GattServer([{ uuid: 'aaaa', characteristics: [{ uuid: 'bbbb', properties: ['notify'] }] }]);
    radio.addPeripheral({ address: '11:22:33:44:55:66', mtu: 23, gatt });
    const noble = withBindings(radio);
    const peripheral = await discover(noble);
    await asyncOf(peripheral).connectAsync!();
    const characteristic = (await characteristicsOf(peripheral)).get('bbbb')!;
    const received: Buffer[] = [];
    characteristic.on('data', (data: Buffer, isNotification: boolean) => isNotification && received.push(data));
    gatt.notify('aaaa', 'bbbb', Uint8Array.of(1));
    await asyncOf(characteristic).subscribeAsync!();
    const next = once(characteristic, 'data');
    gatt.notify('aaaa', 'bbbb', new Uint8Array(30).fill(7));
    await next;
    expect(received.map((data) => data.length)).toEqual([20]);
    expect(radio.stats('11:22:33:44:55:66').notifications).toBe(1);
  });

  it('gives noble no answer for a refused write, as its HCI stack does', async () => {
    const { noble, coffee } = coffeeOnNoble();
    const peripheral = await discover(noble);
    await asyncOf(peripheral).connectAsync!();
    const brew = (await characteristicsOf(peripheral)).get(nobleUuid(CoffeeUuids.brew))!;
    let answered = false;
    brew.on('write', () => (answered = true));
    brew.write(Buffer.from([9, 9]), false);
    // A later request is answered, so the refused one was processed (in order) and dropped.
    await asyncOf((await characteristicsOf(peripheral)).get(nobleUuid(CoffeeUuids.water))!).readAsync!();
    expect(answered).toBe(false);
    expect(coffee.radio.stats(coffee.address).attErrors).toBe(1);
  });

  it('drops the link on demand: noble hears the reason, subscriptions end, requests on the dead link throw', async () => {
    const { noble, coffee } = coffeeOnNoble();
    const peripheral = await discover(noble);
    await asyncOf(peripheral).connectAsync!();
    const state = (await characteristicsOf(peripheral)).get(nobleUuid(CoffeeUuids.state))!;
    await asyncOf(state).subscribeAsync!();
    expect(coffee.radio.subscriptions(coffee.address)).toHaveLength(1);
    const gone = once(peripheral, 'disconnect');
    coffee.radio.dropConnection(coffee.address, DisconnectReason.ConnectionTimeout);
    expect(await gone).toEqual([DisconnectReason.ConnectionTimeout]);
    expect(peripheral.state).toBe('disconnected');
    expect(coffee.radio.subscriptions(coffee.address)).toEqual([]);
    expect(() => state.read()).toThrow(/not connected/);
  });

  it('lets two reads of one characteristic in flight take the same answer: why the driver serialises', async () => {
    const radio = new SimulatedRadio();
    cleanups.push(() => radio.close());
    let count = 0;
    const gatt = new GattServer([{ uuid: 'aaaa', characteristics: [{ uuid: 'cccc', properties: ['read'], read: () => Uint8Array.of(++count) }] }]);
    radio.addPeripheral({ address: '11:22:33:44:55:66', gatt });
    const noble = withBindings(radio);
    const peripheral = await discover(noble);
    await asyncOf(peripheral).connectAsync!();
    const counter = (await characteristicsOf(peripheral)).get('cccc')!;
    const bothAnswered = new Promise<void>((resolve) => {
      let answers = 0;
      radio.on('read', () => ++answers === 2 && resolve());
    });
    const [first, second] = (await Promise.all([asyncOf(counter).readAsync!(), asyncOf(counter).readAsync!()])) as Buffer[];
    await bothAnswered;
    // The device answered 1 then 2; noble handed the first answer to both callers.
    expect(count).toBe(2);
    expect([first![0], second![0]]).toEqual([1, 1]);
    expect(radio.stats('11:22:33:44:55:66').maxOutstanding).toBe(2);
  });
});

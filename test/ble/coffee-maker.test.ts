/**
 * The BLE driver with the simulated coffee maker, through noble's real objects and
 * the real device registry: discovery, the brew flow, refusals, a disconnect in the
 * middle of a brew, and 100 concurrent GATT operations.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DisconnectReason } from '../../firmware-sim/coffee-maker/index.js';
import { isEvent, isOnline, isProperty, startBench, type BleBench } from './helpers.js';

const STATE_KEY = 'c0ffee00cafe4b1d9e2a5a7b3c8d1e0f/c0ffee01cafe4b1d9e2a5a7b3c8d1e0f';
const WATER_KEY = 'c0ffee00cafe4b1d9e2a5a7b3c8d1e0f/c0ffee02cafe4b1d9e2a5a7b3c8d1e0f';

let bench: BleBench | undefined;

afterEach(async () => {
  await bench?.close();
  bench = undefined;
});

async function online(options: Parameters<typeof startBench>[0] = {}): Promise<BleBench> {
  bench = await startBench(options);
  await bench.recorder.until(isOnline(true));
  return bench;
}

function states(current: BleBench, from = 0): unknown[] {
  return current.recorder.seen
    .slice(from)
    .filter(isProperty('state'))
    .map((entry) => (entry.body as { value: unknown }).value);
}

describe('BLE coffee maker', () => {
  it('is discovered by its advertised name, connected, subscribed and read', async () => {
    const { gateway, coffee, recorder } = await online();
    const details = await gateway.call('GET', ['devices', 'coffee']);
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({
      id: 'coffee',
      driver: 'ble',
      online: true,
      title: 'Cafetera',
      model: 'coffee-maker',
      properties: { state: { type: 'string' }, water: { unit: '%' }, boilerTemperature: { unit: '°C' }, keepWarm: { writable: true }, rssi: { unit: 'dBm' } },
      actions: { brew: { input: { required: ['size'] } }, refill: {} },
      events: { error: {}, ready: {} },
    });
    // The initial values were read, int16le ×0.01 and utf8 included.
    const values = await gateway.call('GET', ['devices', 'coffee', 'properties']);
    expect(values.status).toBe(200);
    for (const [name, value] of Object.entries({ state: 'idle', water: 100, boilerTemperature: 22, battery: 100, firmware: '1.2.0', rssi: -58 })) {
      await recorder.until(isProperty(name, value));
    }
    // Notifying characteristics the profile uses were subscribed, and only those.
    expect(coffee.radio.subscriptions(coffee.address).sort()).toEqual([STATE_KEY, WATER_KEY, 'c0ffee00cafe4b1d9e2a5a7b3c8d1e0f/c0ffee03cafe4b1d9e2a5a7b3c8d1e0f', '180f/2a19'].sort());
    expect(coffee.radio.stats(coffee.address).connects).toBe(1);
  });

  it('brews: ANSWER 200, then state PATCHes heating -> brewing -> ready and a ready event', async () => {
    const current = await online();
    const { gateway, recorder } = current;
    const from = recorder.seen.length;
    const answer = await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'large', strength: 'strong' });
    expect(answer).toEqual({ status: 200, body: { state: 'heating' } });
    await recorder.after(from, isEvent('ready'));
    expect(states(current, from)).toEqual(['heating', 'brewing', 'ready']);
    // A large cup uses 20 % of the tank, reported as it pours.
    await recorder.until(isProperty('water', 80));
    const temperatures = recorder.seen.slice(from).filter(isProperty('boilerTemperature')).map((entry) => (entry.body as { value: number }).value);
    expect(Math.max(...temperatures)).toBe(92);
    // Not notified: a GET reads the machine.
    expect(await gateway.call('GET', ['devices', 'coffee', 'properties', 'cupsBrewed'])).toEqual({ status: 200, body: 1 });
    // The ready event comes after the state that raised it.
    const readyAt = recorder.seen.findIndex(isEvent('ready'));
    const stateReadyAt = recorder.seen.findIndex(isProperty('state', 'ready'));
    expect(stateReadyAt).toBeLessThan(readyAt);
  });

  it('refuses to brew with too little water: error event, error state, then a refill lets it brew', async () => {
    const current = await online({ coffee: { water: 12 } });
    const { gateway, recorder } = current;
    const refused = await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'large' });
    expect(refused).toEqual({ status: 200, body: { state: 'error', error: 'no-water' } });
    const event = await recorder.until(isEvent('error'));
    expect(event.resource).toEqual(['devices', 'coffee', 'events', 'error']);
    expect(event.body).toMatchObject({ data: { code: 'no-water' } });
    await recorder.until(isProperty('state', 'error'));
    expect(current.coffee.machine.snapshot().water).toBe(12);

    const refilling = recorder.seen.length;
    const refill = await gateway.call('POST', ['devices', 'coffee', 'actions', 'refill']);
    expect(refill).toEqual({ status: 200, body: { water: 100 } });
    await recorder.after(refilling, isProperty('state', 'idle'));
    const from = recorder.seen.length;
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'small' })).status).toBe(200);
    await recorder.after(from, isEvent('ready'));
    expect(states(current, from)).toEqual(['heating', 'brewing', 'ready']);
  });

  it('answers busy while a brew runs, and rejects input outside the schema with 400', async () => {
    const { gateway, recorder } = await online({ coffee: { speed: 5 } });
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'medium' })).status).toBe(200);
    const busy = await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'small' });
    expect(busy.status).toBe(200);
    expect(busy.body).toMatchObject({ error: 'busy' });
    expect((await recorder.until(isEvent('error'))).body).toMatchObject({ data: { code: 'busy' } });
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'huge' })).status).toBe(400);
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'small', sugar: true })).status).toBe(400);
  });

  it('writes keep-warm (PUT 200 with the confirmed value) and reads it back from the machine', async () => {
    const { gateway, coffee } = await online();
    expect(await gateway.call('PUT', ['devices', 'coffee', 'properties', 'keepWarm'], true)).toEqual({ status: 200, body: true });
    expect(coffee.machine.snapshot().keepWarm).toBe(true);
    // Changed on the machine itself: keepWarm is not notified, so a GET asks the machine.
    coffee.machine.setKeepWarm(false);
    expect(await gateway.call('GET', ['devices', 'coffee', 'properties', 'keepWarm'])).toEqual({ status: 200, body: false });
    expect((await gateway.call('PUT', ['devices', 'coffee', 'properties', 'water'], 50)).status).toBe(403);
    expect((await gateway.call('GET', ['devices', 'coffee', 'properties', 'rssi'])).body).toBe(-58);
    coffee.radio.setRssi(coffee.address, -71);
    expect(await gateway.call('GET', ['devices', 'coffee', 'properties', 'rssi'])).toEqual({ status: 200, body: -71 });
  });

  it('survives a disconnect in the middle of a brew: offline, 502, reconnect, subscribe again, ready', async () => {
    const current = await online({ coffee: { speed: 10 } });
    const { gateway, coffee, recorder } = current;
    const from = recorder.seen.length;
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'large' })).status).toBe(200);
    await recorder.after(from, isProperty('state', 'brewing'));

    // Out of range mid-brew: the link times out; the machine goes on brewing.
    coffee.radio.setReachable(coffee.address, false);
    const offlineAt = recorder.seen.indexOf(await recorder.after(from, isOnline(false)));
    expect((await gateway.call('GET', ['devices', 'coffee', 'properties', 'state'])).status).toBe(502);
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'small' })).status).toBe(502);
    expect(coffee.machine.snapshot().state).toBe('brewing');

    coffee.radio.setReachable(coffee.address, true);
    const onlineAt = recorder.seen.indexOf(await recorder.after(offlineAt, isOnline(true)));
    // ready arrives after the reconnect: read at set-up or notified, never lost.
    const ready = await recorder.after(offlineAt, isProperty('state', 'ready'));
    expect(recorder.seen.indexOf(ready)).toBeGreaterThan(offlineAt);
    expect(states(current, from)).toEqual(['heating', 'brewing', 'ready']);
    expect(coffee.radio.stats(coffee.address)).toMatchObject({ connects: 2, disconnects: 1 });
    expect(coffee.radio.subscriptions(coffee.address)).toContain(WATER_KEY);

    // The new connection is subscribed: a change on the machine arrives as a PATCH.
    coffee.machine.refill();
    await recorder.after(onlineAt, isProperty('water', 100));
    expect((await gateway.call('GET', ['devices', 'coffee', 'properties', 'state'])).body).toBe('ready');
  });

  it('drops a peripheral-initiated disconnect and a power cycle the same way, reconnecting each time', async () => {
    const { coffee, recorder } = await online();
    let mark = recorder.seen.length;
    coffee.radio.dropConnection(coffee.address, DisconnectReason.RemoteUserTerminated);
    await recorder.after(mark, isOnline(false));
    await recorder.after(mark, isOnline(true));
    mark = recorder.seen.length;
    coffee.radio.setPowered(false);
    await recorder.after(mark, isOnline(false));
    coffee.radio.setPowered(true);
    await recorder.after(mark, isOnline(true));
    expect(coffee.radio.stats(coffee.address).connects).toBe(3);
  });

  it('runs 100 concurrent GATT operations one at a time, each answer to its own request', async () => {
    const { gateway, coffee } = await online();
    const before = coffee.radio.stats(coffee.address);
    // 50 writes and 50 reads, interleaved and all in flight at once: read i must see write i.
    const calls = Array.from({ length: 50 }, (_, i) => [
      gateway.call('PUT', ['devices', 'coffee', 'properties', 'keepWarm'], i % 2 === 0),
      gateway.call('GET', ['devices', 'coffee', 'properties', 'keepWarm']),
    ]).flat();
    const answers = await Promise.all(calls);
    answers.forEach((answer, index) => {
      const i = Math.floor(index / 2);
      expect(answer, `operation ${index}`).toEqual({ status: 200, body: i % 2 === 0 });
    });
    const after = coffee.radio.stats(coffee.address);
    expect(after.requests - before.requests).toBe(100);
    // Never a second request on the air while one waits for its answer.
    expect(after.maxOutstanding).toBe(1);
    expect(after.attErrors).toBe(0);
  });

  it('treats a GATT timeout as a broken link: 504, offline, then reconnects when the firmware recovers', async () => {
    const { gateway, coffee, recorder } = await online({ driver: { operationTimeoutMs: 300 } });
    const mark = recorder.seen.length;
    coffee.radio.setUnresponsive(coffee.address, true);
    const answer = await gateway.call('GET', ['devices', 'coffee', 'properties', 'cupsBrewed']);
    expect(answer.status).toBe(504);
    await recorder.after(mark, isOnline(false));
    coffee.radio.setUnresponsive(coffee.address, false);
    await recorder.after(mark, isOnline(true));
    expect(await gateway.call('GET', ['devices', 'coffee', 'properties', 'cupsBrewed'])).toEqual({ status: 200, body: 0 });
  });
});

/**
 * MQTT devices end to end, as a user sees them: simulators on a real broker
 * (mosquitto, then aedes), the gateway with the MQTT driver behind the device
 * registry, and a JSTP client on a real TCP socket.
 */
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Client, type Incoming } from '../../gateway/client.js';
import { parseConfig } from '../../gateway/config.js';
import { driverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { createMqttDriver, type MqttDriver } from '../../drivers/mqtt/driver.js';
import { HomieLamp } from '../../firmware-sim/sensors/homie-device.js';
import { RoomSensor } from '../../firmware-sim/sensors/room-sensor.js';
import { SmartPlug } from '../../firmware-sim/sensors/smart-plug.js';
import { BROKERS, type TestBroker } from './brokers.js';

interface Collected {
  bodies: unknown[];
  until(accept: (body: unknown) => boolean, from?: number): Promise<unknown>;
}

/** Binds on the gateway through the client and keeps every body, with a way to wait for one. */
function collect(client: Client, method: 'PATCH' | 'POST', resource: string[]): Collected {
  const bodies: unknown[] = [];
  const wakers = new Set<() => void>();
  client.bind({ method, resource }, (incoming: Incoming) => {
    bodies.push(incoming.body);
    for (const wake of [...wakers]) wake();
  });
  return {
    bodies,
    async until(accept, from = 0) {
      for (;;) {
        const found = bodies.slice(from).find(accept);
        if (found !== undefined) return found;
        await new Promise<void>((resolve) => {
          const wake = () => {
            wakers.delete(wake);
            resolve();
          };
          wakers.add(wake);
        });
      }
    },
  };
}

const isOnline = (online: boolean) => (body: unknown) => (body as { online?: boolean }).online === online;

for (const [brokerName, startBroker] of BROKERS) {
  describe(`MQTT devices through the gateway (${brokerName})`, () => {
    let broker: TestBroker;
    let gateway: Gateway | undefined;
    let client: Client | undefined;
    let driver: MqttDriver;
    let sensor: RoomSensor;
    let plug: SmartPlug;
    let lamp: HomieLamp;
    const logLines: string[] = [];

    beforeEach(async () => {
      broker = await startBroker();
      sensor = new RoomSensor({ url: broker.url, topic: 'home/kitchen', intervalMs: 50, seed: 7 });
      plug = new SmartPlug({ url: broker.url, topic: 'plug1', intervalMs: 50, seed: 8 });
      lamp = new HomieLamp({ url: broker.url, topic: 'desk-lamp', intervalMs: 50, seed: 9 });
      await Promise.all([sensor.start(), plug.start(), lamp.start()]);
      logLines.length = 0;
      const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));
      const config = parseConfig(
        {
          listen: { host: '127.0.0.1', tcp: 0, http: 0 },
          log: { level: 'silent' },
          mqtt: { url: broker.url },
          devices: [
            { id: 'kitchen', driver: 'mqtt', profile: 'room-sensor', topic: 'home/kitchen' },
            { id: 'plug', driver: 'mqtt', profile: 'smart-plug', topic: 'plug1' },
          ],
        },
        'test',
      );
      driver = createMqttDriver({ connection: { reconnect: { initialMs: 20, maxMs: 200 } } });
      gateway = await startGateway(config, { logger, plugins: [driverPlugin(driver)] });
      client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`, { answerTimeoutMs: 10_000 });
      await client.ready();
    });

    afterEach(async () => {
      await client?.close();
      await gateway?.close();
      await Promise.all([sensor.stop(), plug.stop(), lamp.stop()]);
      await broker.close();
      client = gateway = undefined;
    });

    async function waitOnline(id: string): Promise<void> {
      const availability = collect(client!, 'PATCH', ['devices', id]);
      const answer = await client!.get(['devices', id]).catch(() => undefined);
      if ((answer?.body as { online?: boolean } | undefined)?.online) return;
      await availability.until(isOnline(true));
    }

    it('lists the devices, and their telemetry reaches a bound client as PATCH', async () => {
      const temperatures = collect(client!, 'PATCH', ['devices', '*', 'properties', 'temperature']);
      const watts = collect(client!, 'PATCH', ['devices', 'plug', 'properties', 'watts']);
      const first = (await temperatures.until(() => true)) as { value: number; at: number };
      expect(first).toEqual({ value: expect.any(Number), at: expect.any(Number) });
      expect(first.value).toBeGreaterThan(10);
      expect(first.value).toBeLessThan(35);
      await watts.until((body) => typeof (body as { value: unknown }).value === 'number');

      await waitOnline('mqtt-homie-desk-lamp');
      const list = await client!.get(['devices']);
      expect(list.body).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: 'kitchen', driver: 'mqtt', title: 'Room sensor' }),
          expect.objectContaining({ id: 'plug', driver: 'mqtt', title: 'Smart plug' }),
          expect.objectContaining({ id: 'mqtt-homie-desk-lamp', driver: 'mqtt', online: true, title: 'Desk lamp' }),
        ]),
      );
      const description = await client!.get(['devices', 'plug']);
      expect(description.body).toMatchObject({
        properties: { power: { type: 'boolean', writable: true }, watts: { type: 'number', unit: 'W' } },
        actions: { toggle: {} },
        events: { button: {} },
      });
      const gatewayInfo = await client!.get(['gateway']);
      expect(gatewayInfo.body).toMatchObject({ drivers: ['mqtt'] });
    });

    it('turns PUT and POST into publishes the simulators obey', async () => {
      await Promise.all([waitOnline('kitchen'), waitOnline('plug'), waitOnline('mqtt-homie-desk-lamp')]);

      const off = await client!.put(['devices', 'plug', 'properties', 'power'], false);
      expect(off.body).toBe(false);
      expect(plug.relayOn).toBe(false);
      const toggled = await client!.post(['devices', 'plug', 'actions', 'toggle']);
      expect(toggled.body).toBe(true);
      expect(plug.relayOn).toBe(true);

      const interval = await client!.put(['devices', 'kitchen', 'properties', 'interval'], 250);
      expect(interval.body).toBe(250);
      expect(sensor.intervalMs).toBe(250);
      const calibrated = await client!.post(['devices', 'kitchen', 'actions', 'calibrate'], { offset: -1.5 });
      expect(calibrated.body).toBe(-1.5);
      expect(sensor.offset).toBe(-1.5);

      const brightness = await client!.put(['devices', 'mqtt-homie-desk-lamp', 'properties', 'light.brightness'], 25);
      expect(brightness.body).toBe(25);
      expect(lamp.brightness).toBe(25);

      // What the schema or the profile forbids never reaches the broker.
      await expect(client!.put(['devices', 'plug', 'properties', 'watts'], 5)).rejects.toMatchObject({ status: 403 });
      await expect(client!.put(['devices', 'kitchen', 'properties', 'interval'], 'fast')).rejects.toMatchObject({ status: 400 });
      await expect(client!.post(['devices', 'kitchen', 'actions', 'calibrate'], { offset: 99 })).rejects.toMatchObject({ status: 400 });
      await expect(client!.post(['devices', 'nobody', 'actions', 'calibrate'], {})).rejects.toMatchObject({ status: 404 });
    });

    it('raises device events as POST dispatches', async () => {
      await waitOnline('plug');
      const buttons = collect(client!, 'POST', ['devices', 'plug', 'events', 'button']);
      const power = collect(client!, 'PATCH', ['devices', 'plug', 'properties', 'power']);
      // The BIND is in place once a later request has been answered.
      await client!.get(['devices', 'plug']);
      plug.pressButton();
      expect(await buttons.until(() => true)).toEqual({ data: 'SINGLE', at: expect.any(Number) });
      await power.until((body) => (body as { value: boolean }).value === false);
    });

    it('resumes telemetry on its own when the broker restarts mid-test', async () => {
      const temperatures = collect(client!, 'PATCH', ['devices', 'kitchen', 'properties', 'temperature']);
      const availability = collect(client!, 'PATCH', ['devices', 'kitchen']);
      const plugAvailability = collect(client!, 'PATCH', ['devices', 'plug']);
      await temperatures.until(() => true);

      await broker.restart();
      await availability.until(isOnline(false));
      const afterRestart = temperatures.bodies.length;
      await availability.until(isOnline(true));
      await temperatures.until(() => true, afterRestart);
      expect(driver.stats().reconnects).toBeGreaterThanOrEqual(1);
      expect(driver.stats().connected).toBe(true);

      // Commands work again too, once the plug (which reconnects on its own) is back.
      const plugBack = plugAvailability.bodies.findIndex(isOnline(false));
      await plugAvailability.until(isOnline(true), plugBack + 1);
      const answer = await client!.put(['devices', 'plug', 'properties', 'power'], false);
      expect(answer.body).toBe(false);
    });

    it('answers 502 at once for a command while the broker is down, and never hangs', async () => {
      await waitOnline('plug');
      const availability = collect(client!, 'PATCH', ['devices', 'plug']);
      await broker.stop();
      await availability.until(isOnline(false));
      await expect(client!.put(['devices', 'plug', 'properties', 'power'], false)).rejects.toMatchObject({ status: 502 });
      await expect(client!.post(['devices', 'plug', 'actions', 'toggle'])).rejects.toMatchObject({ status: 502 });
      await expect(client!.get(['devices', 'kitchen', 'properties', 'temperature'])).rejects.toMatchObject({ status: 502 });
      await broker.start();
      await availability.until(isOnline(true));
    });

    it('logs, counts and drops malformed payloads without stopping anything', async () => {
      await waitOnline('kitchen');
      const rogue = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
      try {
        const before = driver.stats().malformed;
        await rogue.publishAsync('home/kitchen', 'not json {');
        await rogue.publishAsync('home/kitchen', '[1, 2, 3]');
        await rogue.publishAsync('home/kitchen', JSON.stringify({ temperature: 'hot' }));
        await rogue.publishAsync('tele/plug1/SENSOR', JSON.stringify({ ENERGY: { Power: 'lots' } }));
        await rogue.publishAsync('stat/plug1/RESULT', JSON.stringify({ POWER: 'MAYBE' }));
        await rogue.publishAsync('home/kitchen/availability', 'perhaps');
        await rogue.publishAsync('homie/desk-lamp/light/brightness/$datatype', 'weird');
        await rogue.publishAsync('homie/desk-lamp/$state', 'confused');
        const temperatures = collect(client!, 'PATCH', ['devices', 'kitchen', 'properties', 'temperature']);
        await client!.get(['devices']);
        await rogue.publishAsync('home/kitchen', JSON.stringify({ temperature: -40 }));
        await temperatures.until((body) => (body as { value: number }).value === -40);
        // aedes may deliver other topics later than this one: wait for all eight (the test timeout bounds it).
        while (driver.stats().malformed - before < 8) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(driver.stats().malformed - before).toBe(8);
        expect(logLines.filter((line) => line.includes('malformed MQTT payload dropped'))).toHaveLength(8);
        expect(logLines.join('')).toContain('"topic":"home/kitchen"');

        // Everything still works: telemetry flows and devices answer.
        const next = temperatures.bodies.length;
        await temperatures.until((body) => (body as { value: number }).value !== -40, next);
        const plugPower = await client!.get(['devices', 'plug', 'properties', 'power']);
        expect(typeof plugPower.body).toBe('boolean');
      } finally {
        await rogue.endAsync();
      }
    });
  });
}

/**
 * The MQTT plugin as `pasarela --demo` uses it: the embedded broker, the simulated
 * sensors, and their devices in `GET ["devices"]` with values arriving as PATCH;
 * and, with `mqtt.url` configured, a real mosquitto instead of the embedded broker.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import { mqttPlugin, mqttPlugins } from '../../gateway/plugins/mqtt-plugin.js';
import { mqttDemoPlugin } from '../../demo/plugins.js';
import { RoomSensor } from '../../firmware-sim/sensors/room-sensor.js';
import { startMosquitto, type TestBroker } from './brokers.js';

let gateway: Gateway | undefined;
let client: Client | undefined;
let broker: TestBroker | undefined;
let sensor: RoomSensor | undefined;

afterEach(async () => {
  await client?.close();
  await gateway?.close();
  await sensor?.stop();
  await broker?.close();
  gateway = client = broker = sensor = undefined;
});

function nextPatch(target: Client, resource: string[]): Promise<unknown> {
  return new Promise((resolve) => {
    const unbind = target.bind({ method: 'PATCH', resource }, (incoming) => {
      unbind();
      resolve(incoming.body);
    });
  });
}

describe('the MQTT plugin', () => {
  it('demo: embedded broker and simulators; their devices are listed and their values arrive as PATCH', async () => {
    const config = parseConfig({ listen: { tcp: 0, http: 0 }, log: { level: 'silent' } }, 'test');
    gateway = await startGateway(config, { plugins: [mqttDemoPlugin({ brokerPort: 0, sensorIntervalMs: 50 })] });
    client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`);
    await client.ready();
    const temperature = nextPatch(client, ['devices', 'living-room', 'properties', 'temperature']);
    const watts = nextPatch(client, ['devices', 'plug', 'properties', 'watts']);
    const power = nextPatch(client, ['devices', 'mqtt-homie-desk-lamp', 'properties', 'light.power']);
    expect(await temperature).toEqual({ value: expect.any(Number), at: expect.any(Number) });
    expect(await watts).toEqual({ value: expect.any(Number), at: expect.any(Number) });
    expect(await power).toEqual({ value: expect.any(Number), at: expect.any(Number) });
    const list = await client.get(['devices']);
    expect((list.body as { id: string }[]).map((device) => device.id).sort()).toEqual(['living-room', 'mqtt-homie-desk-lamp', 'plug']);
    const info = await client.get(['gateway']);
    expect(info.body).toMatchObject({ drivers: ['mqtt'] });
  });

  it('uses the configured broker URL instead of the embedded broker', async () => {
    broker = await startMosquitto();
    sensor = new RoomSensor({ url: broker.url, topic: 'office/sensor', intervalMs: 50 });
    await sensor.start();
    const config = parseConfig(
      {
        listen: { tcp: 0, http: 0 },
        mqtt: { url: broker.url },
        devices: [{ id: 'office', driver: 'mqtt', profile: 'room-sensor', topic: 'office/sensor' }],
      },
      'test',
    );
    const plugins = mqttPlugins(config);
    expect(plugins).toHaveLength(1);
    gateway = await startGateway(config, { plugins });
    client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`);
    await client.ready();
    expect(await nextPatch(client, ['devices', 'office', 'properties', 'humidity'])).toEqual({ value: expect.any(Number), at: expect.any(Number) });
  });

  it('is wanted only with MQTT devices or a broker URL', () => {
    expect(mqttPlugins(parseConfig({}, 'test'))).toEqual([]);
    expect(mqttPlugins(parseConfig({ devices: [{ id: 'lamp', driver: 'ble' }] }, 'test'))).toEqual([]);
    expect(mqttPlugins(parseConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' } }, 'test'))).toHaveLength(1);
    expect(mqttPlugins(parseConfig({ devices: [{ id: 'kitchen', driver: 'mqtt', topic: 'k', profile: 'room-sensor' }] }, 'test'))).toHaveLength(1);
  });

  it('on a taken broker port: the demo takes a free port, a real gateway fails with PASARELA_ADDRESS_IN_USE', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as AddressInfo).port;
    try {
      const config = parseConfig({ listen: { tcp: 0, http: 0 }, log: { level: 'silent' }, devices: [{ id: 'office', driver: 'mqtt', profile: 'room-sensor', topic: 'office/sensor' }] }, 'test');
      await expect(startGateway(config, { plugins: [mqttPlugin({ brokerPort: taken })] })).rejects.toMatchObject({ code: ErrorCode.AddressInUse });
      gateway = await startGateway(config, { plugins: [mqttDemoPlugin({ brokerPort: taken, sensorIntervalMs: 50 })] });
      client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`);
      await client.ready();
      expect(await nextPatch(client, ['devices', 'living-room', 'properties', 'temperature'])).toEqual({ value: expect.any(Number), at: expect.any(Number) });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

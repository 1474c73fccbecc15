/**
 * The Home Assistant plugin in a gateway started in-process, on a real mosquitto,
 * with a small driver whose device the test changes at will: what the broker forgets
 * (a restart without persistence) comes back, a description that loses a property
 * loses its entity, a property the device does not report is read, and commands that
 * pile up on a device that does not answer are capped, each answered.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceHandle, DeviceInfo, Driver } from '../../drivers/driver.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { driverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { homeAssistantPlugin } from '../../gateway/plugins/homeassistant-plugin.js';
import { Mosquitto } from '../support/mosquitto.js';
import { until } from '../support/until.js';

const WAIT = 15_000;

const BENCH: DeviceInfo = {
  key: 'bench-1',
  id: 'bench',
  title: 'Test bench',
  properties: {
    level: { type: 'integer', minimum: 0, maximum: 10, writable: true },
    // Not reported by the device: read when it comes online, and after commands.
    counter: { type: 'integer', observable: false },
  },
  actions: { wait: { title: 'Answer when told to' } },
};

/** A driver whose one device the test holds, and which can stop answering. */
function benchDriver() {
  const state = { handle: undefined as DeviceHandle | undefined, hanging: false, reads: 0, level: 0 };
  const driver: Driver = {
    name: 'bench',
    async start(context) {
      state.handle = context.addDevice(BENCH, {
        readProperty: async () => ++state.reads,
        writeProperty: async (_name, value) => {
          state.level = value as number;
          return value;
        },
        invokeAction: (_name, _input, signal) =>
          state.hanging ? new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })) : Promise.resolve('done'),
      });
      state.handle.setOnline(true);
    },
    async stop() {},
  };
  return { driver, state };
}

let broker: Mosquitto;
let ha: MqttClient;
let gateway: Gateway | undefined;
const messages: { topic: string; payload: string; retain: boolean }[] = [];

function lastPayload(topic: string): string | undefined {
  for (let index = messages.length - 1; index >= 0; index--) if (messages[index]!.topic === topic) return messages[index]!.payload;
  return undefined;
}

async function connectHa(): Promise<void> {
  ha = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  ha.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain }));
  await new Promise<void>((resolve, reject) => ha.once('connect', () => resolve()).once('error', reject));
  await new Promise<void>((resolve, reject) => ha.subscribe(['homeassistant/#', 'pasarela/#'], { qos: 1 }, (error) => (error ? reject(error) : resolve())));
}

async function start(): Promise<ReturnType<typeof benchDriver>['state']> {
  const bench = benchDriver();
  const config = parseConfig({ listen: { tcp: 0, http: 0 }, jstp: { answerTimeoutMs: 1_500 }, mqtt: { url: broker.url }, homeassistant: { pollSeconds: 0 } }, 'test');
  const from = messages.length;
  gateway = await startGateway(config, { plugins: [driverPlugin(bench.driver), homeAssistantPlugin()] });
  await until(() => messages.slice(from).some((message) => message.topic === 'pasarela/status' && message.payload === 'online'), 'the gateway online', WAIT);
  await until(() => lastPayload('pasarela/bench/availability') === 'online', 'the bench online', WAIT);
  return bench.state;
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  await connectHa();
}, 30_000);

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

afterAll(async () => {
  ha?.end(true);
  await broker?.close();
});

describe('the Home Assistant plugin', () => {
  it('puts back what a restarted broker forgot: configs, availability and values', async () => {
    await start();
    await until(() => lastPayload('pasarela/bench/properties/counter') !== undefined, 'the counter read', WAIT);
    ha.end(true);
    // persistence false: the restarted broker holds nothing retained.
    await broker.restart();
    messages.length = 0;
    await connectHa();
    // Published again once the plugin is back (live to this subscriber, which was there first)...
    await until(() => messages.some((message) => message.topic === 'homeassistant/number/pasarela/bench_level/config' && message.payload !== ''), 'the config back', WAIT);
    await until(() => messages.some((message) => message.topic === 'pasarela/bench/availability' && message.payload === 'online'), 'the availability back', WAIT);
    await until(() => messages.some((message) => message.topic === 'pasarela/bench/properties/counter'), 'the counter back', WAIT);
    // ...and retained: a newcomer gets them at once.
    const newcomer = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const retained = new Set<string>();
    newcomer.on('message', (topic, _payload, packet) => packet.retain && retained.add(topic));
    await new Promise<void>((resolve) => newcomer.once('connect', () => resolve()));
    newcomer.subscribe(['homeassistant/number/pasarela/bench_level/config', 'pasarela/bench/availability', 'pasarela/bench/properties/counter'], { qos: 1 });
    await until(() => retained.size === 3, 'the three retained', WAIT);
    newcomer.end(true);
  }, 40_000);

  it('reads a property the device does not report, when the device comes online and after a command', async () => {
    const state = await start();
    await until(() => lastPayload('pasarela/bench/properties/counter') !== undefined, 'the counter read', WAIT);
    const before = state.reads;
    const from = messages.length;
    ha.publish('pasarela/bench/properties/level/set', '7');
    await until(() => messages.slice(from).some((message) => message.topic === 'pasarela/bench/properties/level/result'), 'the write result', WAIT);
    expect(JSON.parse(lastPayload('pasarela/bench/properties/level/result')!)).toMatchObject({ status: 200, body: 7 });
    expect(state.level).toBe(7);
    await until(() => state.reads > before, 'the counter read again', WAIT);
    await until(() => lastPayload('pasarela/bench/properties/counter') === String(state.reads), 'the new count published', WAIT);
  });

  it('empties the config of an entity a new description no longer has, and of every entity when the device goes', async () => {
    const state = await start();
    const from = messages.length;
    state.handle!.describe({ ...BENCH, properties: { counter: BENCH.properties!.counter! } });
    await until(() => messages.slice(from).some((message) => message.topic === 'homeassistant/number/pasarela/bench_level/config' && message.payload === ''), 'the level entity removed', WAIT);
    expect(messages.slice(from).some((message) => message.topic === 'homeassistant/sensor/pasarela/bench_counter/config' && message.payload === '')).toBe(false);
    state.handle!.remove();
    for (const topic of ['homeassistant/sensor/pasarela/bench_counter/config', 'homeassistant/button/pasarela/bench_wait/config', 'homeassistant/sensor/pasarela/bench_wait_result/config', 'pasarela/bench/availability']) {
      await until(() => messages.slice(from).some((message) => message.topic === topic && message.payload === ''), `${topic} emptied`, WAIT);
    }
  });

  it('answers every command on a device that does not answer: 504 after the deadline, and refuses those past the cap', async () => {
    const state = await start();
    state.hanging = true;
    const from = messages.length;
    // The cap is 32 commands in flight; the 33rd and later are refused at once.
    for (let press = 0; press < 34; press++) ha.publish('pasarela/bench/actions/wait/run', 'PRESS', { qos: 1 });
    const results = () => messages.slice(from).filter((message) => message.topic === 'pasarela/bench/actions/wait/result').map((message) => JSON.parse(message.payload) as { status: number; error?: string });
    await until(() => results().length >= 34, 'an answer to every press', WAIT);
    const refused = results().filter((result) => result.status === 500);
    expect(refused).toHaveLength(2);
    expect(refused[0]!.error).toMatch(/32 commands are already waiting/);
    expect(results().filter((result) => result.status === 504)).toHaveLength(32);

    // Once the device answers again, so do its commands.
    state.hanging = false;
    const later = messages.length;
    ha.publish('pasarela/bench/actions/wait/run', 'PRESS', { qos: 1 });
    await until(() => messages.slice(later).some((message) => message.topic === 'pasarela/bench/actions/wait/result' && JSON.parse(message.payload).status === 200), 'a 200', WAIT);
  }, 40_000);
});

/**
 * Home Assistant's side of the gateway, as Home Assistant sees it: the real
 * `pasarela --demo` with a config naming a real mosquitto and
 * `homeassistant: { discovery: true, prefix: homeassistant }`, and an MQTT client
 * standing where Home Assistant would, reading what is retained and published and
 * publishing on the command topics the discovery payloads name.
 *
 * The keys each component requires are those of Home Assistant's MQTT platforms
 * (the `vol.Required` keys of homeassistant/components/mqtt/<component>.py and the
 * rules in its docs): sensor and binary_sensor a state_topic; switch, number, text
 * and button a command_topic; select also its options; event a state_topic and its
 * event_types; an entity with a device needs a unique_id, and the device an
 * identifier.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../support/mosquitto.js';
import { Run } from '../support/pasarela.js';
import { until } from '../support/until.js';

const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  switch: ['command_topic'],
  number: ['command_topic'],
  select: ['command_topic', 'options'],
  text: ['command_topic'],
  button: ['command_topic'],
  event: ['state_topic', 'event_types'],
};
const DEMO_DEVICES = ['coffee', 'rover', 'living-room', 'plug', 'mqtt-homie-desk-lamp'];
/** Generous: the demo's coffee maker brews a large cup in about nine seconds. */
const WAIT = 40_000;

interface Message {
  topic: string;
  payload: string;
  retain: boolean;
}

let broker: Mosquitto;
let ha: MqttClient;
let dir: string;
let config: string;
const messages: Message[] = [];
/** The last payload of each topic (an empty one removes it), as a retained store would keep it. */
const last = new Map<string, string>();

function discovery(): Map<string, Record<string, any>> {
  const configs = new Map<string, Record<string, any>>();
  for (const [topic, payload] of last) {
    if (topic.startsWith('homeassistant/') && topic.endsWith('/config') && payload !== '') configs.set(topic, JSON.parse(payload) as Record<string, any>);
  }
  return configs;
}

function entity(topic: string): Record<string, any> {
  const found = discovery().get(topic);
  if (!found) throw new Error(`no discovery payload on ${topic}`);
  return found;
}

/** Publishes as Home Assistant does (commands are not retained). */
function publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
  return new Promise((resolve, reject) => ha.publish(topic, payload, { qos: 1, retain }, (error) => (error ? reject(error) : resolve())));
}

/** Waits for a message on `topic`, after `from` (an index into `messages`), that satisfies `test`. */
async function next(topic: string, test: (payload: string) => boolean, from: number): Promise<string> {
  let found: Message | undefined;
  await until(() => {
    found = messages.slice(from).find((message) => message.topic === topic && test(message.payload));
    return found !== undefined;
  }, `a message on ${topic}`, WAIT);
  return found!.payload;
}

/** One gateway for the whole file (the tests follow one another, as a day with Home Assistant does). */
async function startGateway(): Promise<Run> {
  const started = new Run(['--demo', '--config', config, '--tcp', '0', '--http', '0']);
  await started.log('ready');
  return started;
}

let run: Run;

beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = await mkdtemp(join(tmpdir(), 'pasarela-ha-'));
  config = join(dir, 'pasarela.yaml');
  await writeFile(config, `mqtt: { url: ${broker.url} }\nhomeassistant: { discovery: true, prefix: homeassistant }\n`);
  ha = mqtt.connect(broker.url, { protocolVersion: 4, clientId: 'home-assistant-stand-in', reconnectPeriod: 0 });
  ha.on('message', (topic, payload, packet) => {
    const text = payload.toString('utf8');
    messages.push({ topic, payload: text, retain: packet.retain });
    last.set(topic, text);
  });
  await new Promise<void>((resolve, reject) => ha.once('connect', () => resolve()).once('error', reject));
  await new Promise<void>((resolve, reject) => ha.subscribe(['homeassistant/#', 'pasarela/#'], { qos: 1 }, (error) => (error ? reject(error) : resolve())));
  run = await startGateway();
  // Every demo device announced, and the coffee maker online (its BLE link is up).
  await until(() => DEMO_DEVICES.every((id) => [...discovery().values()].some((payload) => payload.device?.identifiers?.[0] === `pasarela_${id}`)), 'every demo device in discovery', WAIT);
  await until(() => last.get('pasarela/coffee/availability') === 'online' && last.get('pasarela/coffee/properties/state') === 'idle', 'the coffee maker online and idle', WAIT);
}, 120_000);

afterAll(async () => {
  run?.kill();
  ha?.end(true);
  await broker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('MQTT discovery for Home Assistant', () => {
  it('gives every discovery payload the keys Home Assistant requires for its component', () => {
    const configs = discovery();
    expect(configs.size).toBeGreaterThan(40);
    const uniqueIds = new Set<string>();
    for (const [topic, payload] of configs) {
      const [, component, node, objectId, tail] = topic.split('/');
      expect(Object.keys(REQUIRED), topic).toContain(component);
      expect(node).toBe('pasarela');
      expect(objectId, topic).toMatch(/^[a-zA-Z0-9_-]+$/);
      expect(tail).toBe('config');
      for (const key of REQUIRED[component!]!) expect(payload, `${topic} ${key}`).toHaveProperty(key);
      expect(typeof payload.unique_id, topic).toBe('string');
      expect(uniqueIds.has(payload.unique_id), `${topic} unique_id`).toBe(false);
      uniqueIds.add(payload.unique_id);
      expect(payload.device.identifiers, topic).toEqual([expect.any(String)]);
      expect(payload.device, topic).toMatchObject({ name: expect.any(String), model: expect.any(String), manufacturer: expect.any(String) });
      expect(payload.origin, topic).toMatchObject({ name: 'pasarela' });
      // Every topic it names is a plain topic (no wildcard) of this gateway.
      for (const key of ['state_topic', 'command_topic', 'json_attributes_topic']) {
        if (key in payload) expect(payload[key], `${topic} ${key}`).toMatch(/^pasarela\/[^+#]+$/);
      }
      if (component === 'select') expect(payload.options.length, topic).toBeGreaterThan(0);
      if (component === 'select' || payload.device_class === 'enum') expect(payload.options.every((option: unknown) => typeof option === 'string'), topic).toBe(true);
      if (payload.device_class === 'enum') expect(payload, topic).not.toHaveProperty('unit_of_measurement');
      if (component === 'number') expect(payload.min, topic).toBeLessThan(payload.max);
      if (component === 'event') expect(payload.event_types.length, topic).toBeGreaterThan(0);
      if (payload.device.identifiers[0] === 'pasarela') continue; // the gateway's own entity
      // A device's entities are available when the gateway and the device both are.
      expect(payload.availability_mode, topic).toBe('all');
      expect(payload.availability.map((entry: { topic: string }) => entry.topic), topic).toEqual(['pasarela/status', expect.stringMatching(/^pasarela\/[^/]+\/availability$/)]);
    }
  });

  it('turns the demo devices into the entities that fit them', () => {
    const seen = [...discovery().keys()].map((topic) => topic.split('/')).map(([, component, , objectId]) => `${component} ${objectId}`);
    const coffee = seen.filter((entry) => entry.endsWith(' coffee') || / coffee_/.test(entry)).sort();
    expect(coffee).toEqual([
      'button coffee_brew',
      'button coffee_refill',
      'event coffee_events',
      'select coffee_brew_size',
      'select coffee_brew_strength',
      'sensor coffee_battery',
      'sensor coffee_boilerTemperature',
      'sensor coffee_brew_result',
      'sensor coffee_cupsBrewed',
      'sensor coffee_firmware',
      'sensor coffee_refill_result',
      'sensor coffee_rssi',
      'sensor coffee_state',
      'sensor coffee_water',
      'switch coffee_keepWarm',
    ]);
    expect(seen).toEqual(expect.arrayContaining(['binary_sensor gateway', 'number rover_speed', 'switch rover_motors', 'sensor rover_pose_x', 'number rover_move_distance', 'switch plug_power', 'sensor plug_energy', 'number living-room_interval', 'switch mqtt-homie-desk-lamp_light_on', 'number mqtt-homie-desk-lamp_light_brightness']));

    expect(entity('homeassistant/sensor/pasarela/coffee_boilerTemperature/config')).toMatchObject({ unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement', state_topic: 'pasarela/coffee/properties/boilerTemperature' });
    expect(entity('homeassistant/sensor/pasarela/coffee_battery/config')).toMatchObject({ unit_of_measurement: '%', device_class: 'battery' });
    expect(entity('homeassistant/sensor/pasarela/coffee_state/config')).toMatchObject({ device_class: 'enum', options: ['idle', 'heating', 'brewing', 'ready', 'error'] });
    expect(entity('homeassistant/sensor/pasarela/plug_energy/config')).toMatchObject({ unit_of_measurement: 'kWh', device_class: 'energy', state_class: 'total_increasing' });
    expect(entity('homeassistant/sensor/pasarela/living-room_humidity/config')).toMatchObject({ device_class: 'humidity' });
    expect(entity('homeassistant/switch/pasarela/coffee_keepWarm/config')).toMatchObject({ command_topic: 'pasarela/coffee/properties/keepWarm/set', payload_on: 'true', payload_off: 'false' });
    expect(entity('homeassistant/number/pasarela/rover_speed/config')).toMatchObject({ min: 0.05, max: 1, unit_of_measurement: 'm/s', device_class: 'speed' });
    expect(entity('homeassistant/select/pasarela/coffee_brew_size/config')).toMatchObject({ name: 'Brew size', options: ['small', 'medium', 'large'] });
    expect(entity('homeassistant/event/pasarela/coffee_events/config')).toMatchObject({ event_types: ['error', 'ready'] });
    expect(entity('homeassistant/button/pasarela/coffee_brew/config').device).toEqual({
      identifiers: ['pasarela_coffee'],
      name: 'Cafetera',
      model: 'coffee-maker',
      manufacturer: 'Bluetooth LE device via Pasarela',
      via_device: 'pasarela',
    });
    // A device that says who made it (the robot's firmware announces it) keeps that.
    expect(entity('homeassistant/button/pasarela/rover_stop/config').device).toMatchObject({ model: 'pasarela-robot', manufacturer: 'Pasarela' });
  });

  it('publishes availability and the current values, retained', async () => {
    // The plug reports with its telemetry, every two seconds.
    await until(() => last.has('pasarela/plug/properties/power'), 'the plug reporting', WAIT);
    const retained = (topic: string) => messages.filter((message) => message.topic === topic).every((message) => message.retain || message.payload !== '');
    expect(last.get('pasarela/status')).toBe('online');
    for (const id of DEMO_DEVICES) expect(last.get(`pasarela/${id}/availability`), id).toBe('online');
    expect(Number(last.get('pasarela/coffee/properties/water'))).toBeGreaterThan(0);
    expect(last.get('pasarela/plug/properties/power')).toMatch(/^(true|false)$/);
    expect(JSON.parse(last.get('pasarela/rover/properties/pose')!)).toMatchObject({ x: expect.any(Number), y: expect.any(Number) });
    expect(retained('pasarela/coffee/properties/water')).toBe(true);
  });

  it('brews a cup when the brew button is pressed, with the size chosen in its select, and the state follows the brew', async () => {
    const button = entity('homeassistant/button/pasarela/coffee_brew/config');
    const size = entity('homeassistant/select/pasarela/coffee_brew_size/config');
    const state = entity('homeassistant/sensor/pasarela/coffee_state/config').state_topic as string;
    const water = entity('homeassistant/sensor/pasarela/coffee_water/config').state_topic as string;
    const result = entity('homeassistant/sensor/pasarela/coffee_brew_result/config').state_topic as string;
    const events = entity('homeassistant/event/pasarela/coffee_events/config').state_topic as string;

    const chose = messages.length;
    await publish(size.command_topic, 'large');
    await next(size.state_topic, (payload) => payload === 'large', chose);

    const before = Number(last.get(water));
    const pressed = messages.length;
    await publish(button.command_topic, button.payload_press);
    const outcome = JSON.parse(await next(result, () => true, pressed)) as { status: number; ok: boolean; outcome: string; body: unknown };
    expect(outcome).toMatchObject({ status: 200, ok: true, outcome: '200 Ok', body: { state: 'heating' } });
    await next(state, (payload) => payload === 'heating', pressed);
    await next(state, (payload) => payload === 'brewing', pressed);
    await next(state, (payload) => payload === 'ready', pressed);
    expect(JSON.parse(await next(events, () => true, pressed))).toEqual({ event_type: 'ready' });
    // A large cup takes 20% of the tank (a small one, the select's first option, 10%).
    expect(before - Number(last.get(water))).toBe(20);
  }, 60_000);

  it('writes a switch, publishes the outcome, and answers a bad command with its reason instead of acting', async () => {
    const keepWarm = entity('homeassistant/switch/pasarela/coffee_keepWarm/config');
    const from = messages.length;
    await publish(keepWarm.command_topic, 'true');
    expect(JSON.parse(await next('pasarela/coffee/properties/keepWarm/result', () => true, from))).toMatchObject({ status: 200, body: true });
    await next(keepWarm.state_topic, (payload) => payload === 'true', from);

    const speed = entity('homeassistant/number/pasarela/rover_speed/config');
    const bad = messages.length;
    await publish(speed.command_topic, 'fast');
    expect(JSON.parse(await next('pasarela/rover/properties/speed/result', () => true, bad))).toMatchObject({ status: 400, ok: false, error: 'expected a number, got "fast"' });
    const outOfRange = messages.length;
    await publish(speed.command_topic, '5');
    const refused = JSON.parse(await next('pasarela/rover/properties/speed/result', () => true, outOfRange)) as { status: number; outcome: string };
    // The gateway's own check of the value (the PUT answered 400).
    expect(refused.status).toBe(400);
    expect(refused.outcome).toMatch(/^400 Bad Dispatch: speed: .*from 0\.05 to 1, got 5/);
    const huge = messages.length;
    await publish(speed.command_topic, Buffer.alloc(20_000, 0x31));
    expect(JSON.parse(await next('pasarela/rover/properties/speed/result', () => true, huge))).toMatchObject({ status: 400, error: expect.stringMatching(/at most/) });
    expect(last.get('pasarela/rover/properties/speed')).toBe('0.25');
    // Nothing of it stopped the gateway.
    expect(run.child.exitCode).toBeNull();
  });

  it('publishes every config again when Home Assistant comes back (its birth message)', async () => {
    const from = messages.length;
    await publish('homeassistant/status', 'online');
    await until(() => messages.slice(from).filter((message) => message.topic.endsWith('/config')).length >= discovery().size, 'the configs again', WAIT);
  });

  it('removes a device\'s entities (empty retained configs) when the device goes away', async () => {
    const lamp = [...discovery()].filter(([, payload]) => payload.device.identifiers[0] === 'pasarela_mqtt-homie-desk-lamp').map(([topic]) => topic);
    expect(lamp.length).toBe(3);
    const from = messages.length;
    // Homie 4: an empty retained $homie removes the device; the driver removes it from the gateway.
    await publish('homie/desk-lamp/$homie', '', true);
    for (const topic of lamp) await next(topic, (payload) => payload === '', from);
    await next('pasarela/mqtt-homie-desk-lamp/availability', (payload) => payload === '', from);
    // A new subscriber (Home Assistant after a restart) finds nothing of it retained.
    const fresh = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const retained: string[] = [];
    fresh.on('message', (topic, _payload, packet) => {
      if (packet.retain) retained.push(topic);
    });
    await new Promise<void>((resolve) => fresh.once('connect', () => resolve()));
    await new Promise<void>((resolve) => fresh.subscribe(['homeassistant/#', 'pasarela/#'], { qos: 1 }, () => resolve()));
    // The broker queues the retained messages when it takes the subscription: a message
    // published after it, on the same connection, arrives after all of them.
    await new Promise<void>((resolve) => fresh.subscribe('ha-test/marker', { qos: 1 }, () => resolve()));
    const marked = new Promise<void>((resolve) => fresh.on('message', (topic) => topic === 'ha-test/marker' && resolve()));
    fresh.publish('ha-test/marker', 'end', { qos: 1 });
    await marked;
    fresh.end(true);
    expect(retained.filter((topic) => topic.includes('desk-lamp'))).toEqual([]);
    expect(retained).toContain('homeassistant/button/pasarela/coffee_brew/config');
  });

  it('says the gateway is offline when it stops, and keeps the entities; the last will says so when it dies', async () => {
    const from = messages.length;
    run.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    await next('pasarela/status', (payload) => payload === 'offline', from);
    expect(last.get('homeassistant/button/pasarela/coffee_brew/config')).not.toBe('');

    run = await startGateway();
    const back = messages.length;
    await next('pasarela/status', (payload) => payload === 'online', back);
    const died = messages.length;
    run.kill('SIGKILL');
    await next('pasarela/status', (payload) => payload === 'offline', died);
  }, 60_000);
});

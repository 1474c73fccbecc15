/**
 * A standby device over a real 3-node nats-server cluster, with three real `pasarela`
 * processes: the kitchen and the workshop both reach one MQTT room sensor on a real
 * mosquitto, the workshop configured `standby: true`; the barn only watches, through
 * the fleet. The kitchen runs the sensor; killed with SIGKILL, the workshop takes it
 * over within 10 s under the same id, and the barn's fleet-wide BIND goes on
 * receiving its temperatures; back, the kitchen gets it handed over. Never two at once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import type { Incoming } from '../../gateway/jstp/engine.js';
import { RoomSensor } from '../../firmware-sim/sensors/room-sensor.js';
import { Mosquitto } from '../support/mosquitto.js';
import { NatsCluster } from '../support/nats.js';
import { Run } from '../support/pasarela.js';
import { eventually, until } from '../support/until.js';

const DEVICE = 'shared-room';
const LEASE_TTL_MS = 2_000;

let cluster: NatsCluster;
let broker: Mosquitto;
let sensor: RoomSensor;
let dir: string;
const runs = new Map<string, Run>();
const clients: Client[] = [];

/** Starts `name` from a YAML config file, with the shared sensor when `device` says how. */
async function gateway(name: string, device?: 'preferred' | 'standby'): Promise<Client> {
  const path = join(dir, `${name}.yaml`);
  const lines = ['listen: { host: 127.0.0.1, tcp: 0, http: 0 }', `mqtt: { url: "${broker.url}" }`];
  if (device) {
    lines.push('devices:', `  - { id: ${DEVICE}, driver: mqtt, profile: room-sensor, topic: home/shared${device === 'standby' ? ', standby: true' : ''} }`);
  }
  lines.push(
    'fleet:',
    `  name: ${name}`,
    `  nats: { servers: [${cluster.urls.map((url) => `"${url}"`).join(', ')}] }`,
    `  heartbeatMs: 500`,
    `  offlineAfterMs: 3000`,
    `  leaseTtlMs: ${LEASE_TTL_MS}`,
    '',
  );
  writeFileSync(path, lines.join('\n'));
  const run = new Run(['--config', path]);
  runs.set(name, run);
  const ready = await run.log('ready');
  const client = connect(`tcp://127.0.0.1:${ready.tcp as number}`, { reconnect: false, answerTimeoutMs: 8_000 });
  clients.push(client);
  await client.ready();
  return client;
}

interface FleetMember {
  name: string;
  online: boolean;
  devices: Array<{ id: string; online: boolean }>;
  leases: Array<{ device: string; holding: boolean; standby: boolean }>;
}

async function members(client: Client): Promise<FleetMember[]> {
  return ((await client.get(['fleet'])).body as { members: FleetMember[] }).members;
}

/** The gateways that list the shared device online, as the barn sees the fleet. */
async function runners(barn: Client): Promise<string[]> {
  return (await members(barn)).filter((member) => member.online && member.devices.some((device) => device.id === DEVICE && device.online)).map((member) => member.name);
}

let barn: Client;
/** Each temperature of the shared device the barn received: which gateway sent it, and when. */
const arrivals: Array<{ from: string; at: number }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pasarela-standby-'));
  [cluster, broker] = await Promise.all([NatsCluster.start(3), Mosquitto.start()]);
  sensor = new RoomSensor({ url: broker.url, topic: 'home/shared', intervalMs: 150, seed: 7 });
  await sensor.start();
  // The kitchen runs first; the workshop, coming later, makes its device a leased one.
  [, barn] = await Promise.all([gateway('kitchen', 'preferred'), gateway('barn')]);
  await gateway('workshop', 'standby');
  barn.bind({ method: 'PATCH', resource: ['fleet', '*', 'devices', DEVICE, 'properties', 'temperature'] }, (incoming: Incoming) => {
    arrivals.push({ from: String(incoming.resource[1]), at: Date.now() });
  });
}, 90_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  for (const run of runs.values()) run.kill('SIGKILL');
  await sensor?.stop();
  await Promise.all([cluster?.stop(), broker?.stop()]);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('a standby device', () => {
  it('runs on the preferred gateway only, with the standby waiting', async () => {
    await eventually(() => members(barn), (list) => {
      const workshop = list?.find((member) => member.name === 'workshop');
      return workshop?.leases.some((lease) => lease.device === DEVICE && lease.standby && !lease.holding) === true;
    }, 'the workshop to say it is standby');
    await eventually(() => members(barn), (list) => list?.find((member) => member.name === 'kitchen')?.leases.some((lease) => lease.device === DEVICE && lease.holding) === true, 'the kitchen to hold the lease');
    await until(() => arrivals.length >= 3, 'temperatures at the barn', 15_000);
    // Past the standby's one-ttl wait: it still does not run the device.
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS));
    expect(await runners(barn)).toEqual(['kitchen']);
    expect(new Set(arrivals.map((arrival) => arrival.from))).toEqual(new Set(['kitchen']));
  });

  it('is taken over by the standby within 10 s when the preferred gateway is killed, keeping its id and its subscribers', async () => {
    const kitchen = runs.get('kitchen')!;
    const killedAt = Date.now();
    kitchen.kill('SIGKILL');
    await kitchen.exited;
    await until(() => arrivals.some((arrival) => arrival.from === 'workshop'), 'a temperature from the workshop', 10_000);
    const takeover = arrivals.find((arrival) => arrival.from === 'workshop')!.at - killedAt;
    expect(takeover).toBeLessThan(10_000);
    const devices = (await barn.get(['fleet', 'workshop', 'devices'])).body as Array<{ id: string; driver: string }>;
    expect(devices.map((device) => device.id)).toEqual([DEVICE]);
    await eventually(() => runners(barn), (names) => names?.join() === 'workshop', 'the fleet to show the workshop running it', 10_000);
  }, 30_000);

  it('is handed back to the preferred gateway when it returns, never run by both', async () => {
    const back = await gateway('kitchen', 'preferred');
    await eventually(() => runners(barn), (names) => names?.join() === 'kitchen', 'the kitchen to run it again', 15_000);
    // The fleet can show the lease moved before the kitchen's first reading reaches the barn.
    const firstBackIndex = () => arrivals.findIndex((arrival, index) => arrival.from === 'kitchen' && arrivals.slice(0, index).some((earlier) => earlier.from === 'workshop'));
    await until(() => firstBackIndex() > 0, 'a temperature from the kitchen after the workshop', 10_000);
    const firstBack = firstBackIndex();
    // The workshop stopped before the kitchen started: none of its readings after the
    // kitchen's first, but for one crossing it on the way (different paths to the barn).
    const lateFromWorkshop = arrivals.slice(firstBack).filter((arrival) => arrival.from === 'workshop' && arrival.at > arrivals[firstBack]!.at + 250);
    expect(lateFromWorkshop).toEqual([]);
    const workshopDevices = (await barn.get(['fleet', 'workshop', 'devices'])).body as Array<{ id: string }>;
    expect(workshopDevices).toEqual([]);
    const own = (await back.get(['devices'])).body as Array<{ id: string; online: boolean }>;
    expect(own).toEqual([expect.objectContaining({ id: DEVICE, online: true })]);
  }, 30_000);
});

/**
 * What a gateway sends to the fleet through a `nats:` uplink survives a partition and
 * a NATS node dying under it: real `pasarela` processes on a real 3-node cluster, the
 * kitchen gateway reaching the cluster through TCP proxies the test cuts. Every
 * temperature the kitchen emitted arrives at a subscriber on another gateway, in
 * order, once each.
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
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

let cluster: NatsCluster;
let broker: Mosquitto;
let sensor: RoomSensor;
let dir: string;
let proxies: TcpProxy[];
const runs: Run[] = [];
const clients: Client[] = [];

async function gateway(name: string, yaml: string[]): Promise<Client> {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, ['listen: { host: 127.0.0.1, tcp: 0, http: 0 }', `mqtt: { url: "${broker.url}" }`, ...yaml, ''].join('\n'));
  const run = new Run(['--config', path]);
  runs.push(run);
  const ready = await run.log('ready');
  const client = connect(`tcp://127.0.0.1:${ready.tcp as number}`, { reconnect: false, answerTimeoutMs: 8_000 });
  clients.push(client);
  await client.ready();
  return client;
}

/**
 * Temperature readings as they were emitted (at the kitchen) or received (elsewhere),
 * each as `value@at`: a value can recur, the reading's time makes it one of a kind.
 */
function recorder(client: Client, resource: string[]): string[] {
  const readings: string[] = [];
  client.bind({ method: 'PATCH', resource }, (incoming: Incoming) => {
    const { value, at } = incoming.body as { value: number; at: number };
    readings.push(`${value}@${at}`);
  });
  return readings;
}

let kitchen: Client;
let barn: Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pasarela-partition-'));
  [cluster, broker] = await Promise.all([NatsCluster.start(3), Mosquitto.start()]);
  proxies = await Promise.all(cluster.nodes.map((node) => TcpProxy.start(node.port)));
  sensor = new RoomSensor({ url: broker.url, topic: 'home/kitchen', intervalMs: 100, seed: 3 });
  await sensor.start();
  kitchen = await gateway('kitchen', [
    'devices:',
    '  - { id: kitchen-room, driver: mqtt, profile: room-sensor, topic: home/kitchen }',
    `fleet: { name: kitchen, heartbeatMs: 500, offlineAfterMs: 3000, nats: { discover: false, servers: [${proxies.map((p) => `"${p.url}"`).join(', ')}] } }`,
    'uplinks:',
    '  - { name: fleet, url: "nats:", forward: ["PATCH devices/..."], buffer: { path: ./kitchen-outbox.db } }',
  ]);
  barn = await gateway('barn', [`fleet: { name: barn, heartbeatMs: 500, offlineAfterMs: 3000, nats: { servers: [${cluster.urls.map((u) => `"${u}"`).join(', ')}] } }`]);
}, 90_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  for (const run of runs) run.kill('SIGKILL');
  await sensor?.stop();
  for (const proxy of proxies ?? []) await proxy.close();
  await Promise.all([cluster?.stop(), broker?.stop()]);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/**
 * Every reading the kitchen emitted, from the first one the barn also got (both BINDs
 * had taken effect then), arrives at the barn once and in order. The barn may have
 * more before it (the kitchen's store began before this test's BINDs).
 */
function expectDelivered(emitted: string[], received: string[]): void {
  expect(new Set(received).size, 'no reading twice').toBe(received.length);
  const from = emitted.findIndex((reading) => received.includes(reading));
  expect(from, 'a reading both saw').toBeGreaterThanOrEqual(0);
  const positions = emitted.slice(from).map((reading) => received.indexOf(reading));
  expect(positions.filter((at) => at === -1), 'nothing lost').toEqual([]);
  expect([...positions].sort((a, b) => a - b), 'in order').toEqual(positions);
}

describe('a nats: uplink through outages', () => {
  it('keeps what the kitchen emits while it is cut off from the cluster, and delivers it once healed', async () => {
    const emitted = recorder(kitchen, ['devices', 'kitchen-room', 'properties', 'temperature']);
    const received = recorder(barn, ['fleet', 'kitchen', 'devices', 'kitchen-room', 'properties', 'temperature']);
    await until(() => received.length >= 3, 'kitchen temperatures at the barn', 20_000);
    const before = emitted.length;
    for (const proxy of proxies) proxy.cut();
    // The partition lasts long enough for the barn to see the kitchen go.
    await until(() => emitted.length >= before + 30, 'the kitchen to go on emitting while cut off', 20_000);
    const barnSawBefore = received.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Nothing crossed the partition.
    expect(received.length).toBeLessThanOrEqual(barnSawBefore + 1);
    for (const proxy of proxies) proxy.heal();
    const cutOffAt = emitted.length;
    await until(() => received.includes(emitted[cutOffAt - 1]!), 'the stored temperatures to arrive', 30_000);
    expectDelivered(emitted.slice(0, cutOffAt), received);
  }, 90_000);

  it('loses nothing when the NATS node the kitchen is on is killed mid-stream', async () => {
    const emitted = recorder(kitchen, ['devices', 'kitchen-room', 'properties', 'temperature']);
    const received = recorder(barn, ['fleet', 'kitchen', 'devices', 'kitchen-room', 'properties', 'temperature']);
    await until(() => received.length >= 3, 'kitchen temperatures at the barn', 20_000);
    const server = ((await kitchen.get(['fleet'])).body as { nats: { server?: string } }).nats.server ?? '';
    const proxy = proxies.find((candidate) => server.endsWith(`:${candidate.port}`));
    const node = cluster.nodes[proxies.indexOf(proxy!)];
    expect(node, `the kitchen is on ${server}`).toBeDefined();
    await node!.kill();
    const at = emitted.length;
    await until(() => emitted.length >= at + 20, 'more temperatures after the kill', 20_000);
    const last = emitted[emitted.length - 1]!;
    await until(() => received.includes(last), 'them at the barn', 30_000);
    expectDelivered(emitted.slice(0, emitted.indexOf(last) + 1), received);
    await node!.start();
  }, 90_000);
});

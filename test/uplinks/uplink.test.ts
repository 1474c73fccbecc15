/**
 * An uplink between two real gateways over real sockets: forwarding in order with
 * ids and receipts, requests answered once accepted, nothing forwarded that does not
 * match, the far end calling in (serve) or refused, no echo, a BIND of the far end
 * delivered once, replay after the far end comes up, ws://, `GET ["gateway",
 * "uplinks"]`, the config's errors, and a node-jstp far end (no receipts).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import { ConfigError, parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { driverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { dedupPlugin } from '../../gateway/uplinks/dedup.js';
import { uplinkPlugins } from '../../gateway/uplinks/uplink-plugin.js';
import type { UplinkStatus } from '../../gateway/uplinks/uplink.js';
import { memoryDriver, SimulatedLamp } from '../devices/memory-driver.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { startNodeJstp } from '../support/node-jstp.js';
import { deadPort } from '../support/pasarela.js';
import { until } from '../support/until.js';
import { checkHistory, eventually, recordingPino, startFarEnd, temporaryFolder, type FarEnd } from './harness.js';

const cleanups = cleanupsAfterEach();
const folder = temporaryFolder('pasarela-uplink-');
let stores = 0;


interface Started {
  gateway: Gateway;
  client: Client;
  logs: Record<string, unknown>[];
  status(): Promise<UplinkStatus>;
}

async function gatewayWith(uplink: Record<string, unknown>, options: { lamp?: SimulatedLamp; answerTimeoutMs?: number } = {}): Promise<Started> {
  const logs: Record<string, unknown>[] = [];
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', tcp: 0, http: 0 },
      jstp: { answerTimeoutMs: options.answerTimeoutMs ?? 10_000 },
      uplinks: [{ name: 'cloud', sender: 'kitchen-pi', forward: ['PATCH devices/...'], buffer: { path: `store-${stores++}.sqlite` }, reconnect: { initialMs: 50, maxMs: 200 }, ...uplink }],
    },
    'test',
  );
  const plugins = [dedupPlugin(), ...(options.lamp ? [driverPlugin(memoryDriver(options.lamp))] : []), ...uplinkPlugins(config)];
  const gateway = await startGateway(config, { plugins, configDir: folder(), logger: recordingPino(logs) });
  cleanups.push(() => gateway.close());
  const client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`, { reconnect: false });
  cleanups.push(() => client.close());
  await client.ready();
  return {
    gateway,
    client,
    logs,
    status: async () => ((await client.get(['gateway', 'uplinks'])).body as UplinkStatus[])[0]!,
  };
}

async function far(options: Parameters<typeof startFarEnd>[0] = {}): Promise<FarEnd> {
  const end = await startFarEnd(options);
  cleanups.push(() => end.close());
  return end;
}

describe('an uplink', () => {
  it('forwards what matches, in order, with ids; answers requests once accepted; deletes what the far end received', async () => {
    const end = await far();
    const { client, status } = await gatewayWith({ url: `tcp://127.0.0.1:${end.port}` });
    await eventually(async () => (await status()).connected, 'the uplink connected');
    const answers = await Promise.all(Array.from({ length: 300 }, (_, n) => client.patch(['devices', 'lamp', 'properties', 'temperature'], n)));
    for (const answer of answers) expect(answer.body).toMatchObject({ uplink: 'cloud', id: ['kitchen-pi', expect.any(Number), expect.any(Number)] });
    client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], 300);
    client.emit('POST', ['devices', 'lamp', 'events', 'blinked'], 'not forwarded');
    client.emit('PATCH', ['gateway', 'other'], 'not forwarded');
    await until(() => end.delivered.length === 301, 'every PATCH delivered', 10_000);
    const figures = checkHistory({ accepted: [...Array(301).keys()], raw: end.raw, delivered: end.delivered });
    expect(figures.duplicatesOnTheWire).toBe(0);
    expect(end.delivered.map((arrival) => arrival.id[2])).toEqual([...Array(301).keys()].map((n) => n + 1));
    await until(() => end.receipts.length > 0, 'a receipt');
    let last: UplinkStatus | undefined;
    for (let i = 0; i < 100; i++) {
      last = await status();
      if (last.acknowledged === 301) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(last).toMatchObject({ connected: true, accepted: 301, sent: 301, acknowledged: 301, queued: { count: 0, bytes: 0 }, oldestAgeS: null, resent: 0, dropped: { total: 0 } });
  });

  it('with the link up, sends a dispatch while its commit runs; a request is still answered only once it committed', async () => {
    const end = await far();
    const { client, status } = await gatewayWith({ url: `tcp://127.0.0.1:${end.port}`, buffer: { path: 'held.sqlite' } });
    await eventually(async () => (await status()).connected, 'the uplink connected');
    // A second connection holds the file's write lock: the writer's commit waits for it (busy timeout 5 s).
    const holder = new Database(join(folder(), 'held.sqlite'));
    cleanups.push(() => holder.close());
    holder.exec('BEGIN IMMEDIATE');
    let answered = false;
    const answer = client.patch(['devices', 'lamp', 'properties', 'temperature'], 1).then((reply) => {
      answered = true;
      return reply;
    });
    // Closed at the end if this test fails early: that rejection is not the failure.
    answer.catch(() => undefined);
    await until(() => end.delivered.length === 1, 'the dispatch reached the far end before its commit', 3_000);
    expect(end.delivered[0]).toMatchObject({ body: 1, id: ['kitchen-pi', expect.any(Number), 1] });
    expect(answered).toBe(false);
    expect(await status()).toMatchObject({ accepted: 0, sent: 1 });
    holder.exec('COMMIT');
    expect((await answer).body).toMatchObject({ uplink: 'cloud', id: ['kitchen-pi', expect.any(Number), 1] });
    await eventually(async () => (await status()).acknowledged === 1, 'acknowledged');
    expect(await status()).toMatchObject({ accepted: 1, sent: 1, queued: { count: 0 }, resent: 0 });
    expect(end.raw).toHaveLength(1);
  });

  it('with serve: true, the far end GETs, PUTs, POSTs and BINDs on the gateway over the same link; what it bound arrives once', async () => {
    const end = await far();
    const lamp = new SimulatedLamp();
    const { client } = await gatewayWith({ url: `tcp://127.0.0.1:${end.port}`, serve: true }, { lamp });
    client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], 1);
    await until(() => end.lastChannel !== undefined, 'a forwarded dispatch');
    const gateway = end.gateway.engine.peer(end.lastChannel!);
    expect((await gateway.request('GET', ['gateway'])).body).toMatchObject({ name: 'pasarela', drivers: ['memory'] });
    expect((await gateway.request('PUT', ['devices', 'lamp', 'properties', 'brightness'], 80)).body).toBe(80);
    expect((await gateway.request('POST', ['devices', 'lamp', 'actions', 'blink'], { times: 2 })).body).toEqual({ blinked: 2 });
    // A BIND on something the uplink forwards anyway, and on something it does not.
    await gateway.bind({ method: 'PATCH', resource: ['devices', 'lamp', 'properties', 'temperature'] });
    await gateway.bind({ method: 'POST', resource: ['devices', 'lamp', 'events', '*'] });
    const events: unknown[] = [];
    end.gateway.engine.bind({ method: 'POST', resource: ['devices', 'lamp', 'events', '*'] }, (incoming) => void events.push(incoming.body));
    const temperatures: unknown[] = [];
    end.gateway.engine.bind({ method: 'PATCH', resource: ['devices', 'lamp', 'properties', 'temperature'] }, (incoming) => void temperatures.push(incoming.body));
    client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], 2);
    client.emit('POST', ['devices', 'lamp', 'events', 'overheated'], 'hot');
    await until(() => events.length === 1 && temperatures.length === 1, 'the event (live) and the PATCH (stored)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The PATCH came once, through the buffer, with its id; not a second time live.
    expect(temperatures).toEqual([2]);
    expect(end.raw.filter((arrival) => arrival.body === 2)).toHaveLength(1);
    expect(events).toEqual(['hot']);
  });

  it('with serve: false (the default), what the far end asks is refused with 403, and answers still come through', async () => {
    const end = await far();
    const { client, status } = await gatewayWith({ url: `tcp://127.0.0.1:${end.port}` });
    client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], 1);
    await until(() => end.lastChannel !== undefined, 'a forwarded dispatch');
    const answers = await end.gateway.engine.peer(end.lastChannel!).request('GET', ['gateway']).all();
    expect(answers.map((answer) => answer.status)).toEqual([403]);
    expect(answers[0]!.body).toEqual({ reason: 'uplink cloud does not serve its far end (serve: false)' });
    await expect(end.gateway.engine.peer(end.lastChannel!).bind({ method: 'PATCH', resource: ['devices', '...'] })).rejects.toMatchObject({ status: 403 });
    // Receipts are answers: they pass, and the queue empties.
    await until(() => end.receipts.length > 0, 'a receipt');
    await until(() => end.delivered.length === 1, 'the PATCH');
    expect((await status()).acknowledged).toBe(1);
  });

  it('never sends the far end its own dispatches back', async () => {
    const end = await far();
    const { client } = await gatewayWith({ url: `tcp://127.0.0.1:${end.port}`, serve: true });
    client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], 1);
    await until(() => end.lastChannel !== undefined, 'a forwarded dispatch');
    const seenAtGateway: unknown[] = [];
    client.bind({ method: 'PATCH', resource: ['devices', '...'] }, (incoming) => void seenAtGateway.push(incoming.body));
    await new Promise((resolve) => setTimeout(resolve, 50));
    end.gateway.engine.peer(end.lastChannel!).emit('PATCH', ['devices', 'cloud-side', 'properties', 'x'], 'from the far end');
    await until(() => seenAtGateway.includes('from the far end'), 'the far end PATCH at the gateway');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(end.raw.map((arrival) => arrival.body)).toEqual([1]);
  });

  it('keeps what comes while the far end is away and replays it when it comes, reporting the replay', async () => {
    const port = await deadPort();
    const { client, status, logs } = await gatewayWith({ url: `tcp://127.0.0.1:${port}` });
    const accepted: number[] = [];
    for (let n = 0; n < 500; n++) {
      const answer = await client.patch(['devices', 'lamp', 'properties', 'temperature'], n);
      if ((answer.body as { uplink?: string }).uplink === 'cloud') accepted.push(n);
    }
    const down = await status();
    expect(down).toMatchObject({ connected: false, queued: { count: 500 }, sent: 0, acknowledged: 0 });
    expect(down.oldestAgeS).toBeGreaterThanOrEqual(0);
    expect(down.lastError).toMatch(/ECONNREFUSED|cannot connect/);
    const end = await far({ port });
    await until(() => end.delivered.length === 500, 'the replay', 15_000);
    checkHistory({ accepted, raw: end.raw, delivered: end.delivered });
    await until(() => logs.some((line) => line.msg === 'uplink replay done'), 'the replay report', 5_000);
    const up = await status();
    expect(up).toMatchObject({ connected: true, queued: { count: 0 }, acknowledged: 500, lastReplay: { dispatches: 500 } });
    expect(up.lastReplay!.perSecond).toBeGreaterThan(0);
  });

  it('a far end whose own stage refuses some dispatches: sent once more, then given up and counted', async () => {
    const refuseSeven = {
      name: 'refuse-seven',
      async start({ engine }: { engine: Gateway['engine'] }) {
        return engine.use({ name: 'refuse-seven', inbound: (dispatch) => (dispatch.body === 7 ? { drop: 'seven is not welcome' } : dispatch) });
      },
    };
    const end = await far({ before: [refuseSeven] });
    const { client, status } = await gatewayWith({ url: `tcp://127.0.0.1:${end.port}` });
    await eventually(async () => (await status()).connected, 'the uplink connected');
    for (let n = 0; n < 10; n++) await client.patch(['devices', 'lamp', 'properties', 'temperature'], n);
    await eventually(async () => (await status()).queued.count === 0, 'the queue to drain', 10_000);
    const final = await status();
    expect(final.farRefused).toBeGreaterThanOrEqual(1);
    expect(final.acknowledged).toBe(10);
    expect(end.delivered.map((arrival) => arrival.body)).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9]);
    // Seven went twice at most: once, and once more.
    expect(end.raw.filter((arrival) => arrival.body === 7).length).toBeLessThanOrEqual(2);
  });

  it('dials ws:// too', async () => {
    const end = await far();
    const { client } = await gatewayWith({ url: `ws://127.0.0.1:${end.gateway.ports.http}/jstp` });
    for (let n = 0; n < 20; n++) client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], n);
    await until(() => end.delivered.length === 20, 'the PATCHes over WebSocket', 10_000);
    checkHistory({ accepted: [...Array(20).keys()], raw: end.raw, delivered: end.delivered });
    expect(end.raw[0]!.channel).toMatch(/^ws /);
  });

  it('with a node-jstp far end: forwards in order, gets no receipt, deletes nothing and says why', async () => {
    const peer = await startNodeJstp({ tcpPort: 0 });
    cleanups.push(() => peer.close());
    const binding = await peer.bind({ method: 'PATCH', resource: ['devices', 'lamp', 'properties', 'temperature'] });
    // node-jstp never answers what it has no callback for: the receipt times out (soon, here).
    const { client, status, logs } = await gatewayWith({ url: `tcp://127.0.0.1:${peer.tcpPort!}` }, { answerTimeoutMs: 1_000 });
    // Bodies from 1: node-jstp turns a falsy body into {}.
    for (let n = 1; n <= 5; n++) client.emit('PATCH', ['devices', 'lamp', 'properties', 'temperature'], n);
    const patches = await binding.waitFor(5, 10_000);
    expect(patches.map((d) => d.body)).toEqual([1, 2, 3, 4, 5]);
    expect(patches.map((d) => (d as { id?: unknown[] }).id?.[2])).toEqual([1, 2, 3, 4, 5]);
    await until(() => logs.some((line) => String(line.msg).startsWith('far end sent no receipt')), 'the no-receipt warning', 10_000);
    expect(await status()).toMatchObject({ connected: true, sent: 5, acknowledged: 0, queued: { count: 5 } });
  });
});

describe('the uplinks config', () => {
  function issues(uplinks: unknown): string {
    try {
      parseConfig({ uplinks }, 'pasarela.yaml');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    return 'no error';
  }

  it('names the key and what was expected', () => {
    expect(issues([{ name: 'cloud', url: 'http://x:1' }])).toMatch(/uplinks\[0\]\.url: expected a URL with a host and a port, scheme tcp:\/\/, ws:\/\/, wss:\/\//);
    expect(issues([{ name: 'cloud', url: 'tcp://x' }])).toMatch(/uplinks\[0\]\.url/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', forward: ['devices/...'] }])).toMatch(/uplinks\[0\]\.forward\[0\]: expected a JSTP pattern "METHOD a\/b\/c"/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', forward: ['FETCH devices'] }])).toMatch(/forward\[0\]: expected a method/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', forward: ['PATCH a/.../...'] }])).toMatch(/forward\[0\]: expected a valid pattern/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', buffer: { maxBytes: '12 parsecs' } }])).toMatch(/uplinks\[0\]\.buffer\.maxBytes: expected a size/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', buffer: { whenFull: 'panic' } }])).toMatch(/buffer\.whenFull: expected one of "drop-oldest", "refuse-new"/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', bufer: {} }])).toMatch(/uplinks\[0\]\.bufer: expected one of the keys name, url, forward, serve, sender, buffer, reconnect, connectTimeoutMs/);
    expect(issues([{ name: 'cloud', url: 'tcp://x:1', buffer: { max: 1 } }])).toMatch(/uplinks\[0\]\.buffer\.max: expected one of the keys path, maxBytes, maxAgeS, whenFull/);
    expect(issues([{ name: 'a', url: 'tcp://x:1' }, { name: 'a', url: 'tcp://y:1' }])).toMatch(/uplinks\[1\]\.name: expected a unique uplink name/);
    expect(issues([{ name: 'a', url: 'tcp://x:1', sender: 'pi' }, { name: 'b', url: 'tcp://y:1', sender: 'pi' }])).toMatch(/uplinks\[1\]\.sender: expected a sender no other uplink uses/);
    expect(issues([{ name: 'a', url: 'tcp://x:1', reconnect: { initialDelayMs: 5 } }])).toMatch(/reconnect\.initialDelayMs: expected is not a backoff option: it is called initialMs now/);
  });

  it('fills the defaults of the issue: 256 MB, 7 days, drop-oldest, no serving', () => {
    const config = parseConfig({ uplinks: [{ name: 'cloud', url: 'tcp://cloud.example:33333', forward: ['PATCH devices/...'] }] }, 'test');
    expect(config.uplinks?.[0]).toMatchObject({ serve: false, buffer: { maxBytes: 256_000_000, maxAgeS: 604_800, whenFull: 'drop-oldest' }, connectTimeoutMs: 5_000 });
    // Parsed twice (flags are merged into a parsed config): the output passes the schema too.
    expect(() => parseConfig(config, 'flags')).not.toThrow();
  });
});

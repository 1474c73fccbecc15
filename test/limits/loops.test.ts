/**
 * No loops, between real `pasarela` processes (forwarding on, one of them from a YAML
 * config with a `limits:` section), as a user would wire them: a client sends a BIND
 * with a `host` hop, so the gateway it talks to subscribes at the hop. Before the
 * `via` trace and own-hop recognition, each arrangement below copied a single PATCH
 * forever. Now every subscriber gets it exactly once, and the copy that comes back
 * to where it started is dropped there (counted in GET ["gateway", "limits"]).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNodeJstp, type NodeJstpPeer } from '../support/node-jstp.js';
import { Run } from '../support/pasarela.js';
import { sleep, waitFor } from '../transports/helpers.js';
import { bind, dispatch, Peer } from './peers.js';

interface Gateway {
  run: Run;
  tcp: number;
  name: string;
}

const runs: Run[] = [];
const peers: Peer[] = [];
const servers: net.Server[] = [];
let dir: string;
let a: Gateway;
let b: Gateway;
let c: Gateway;
let node: NodeJstpPeer;

async function start(name: string, ...args: string[]): Promise<Gateway> {
  const run = new Run(['--tcp', '0', '--http', '0', ...args]);
  runs.push(run);
  const ready = await run.log('ready');
  return { run, tcp: ready.tcp as number, name };
}

async function peer(target: Gateway): Promise<Peer> {
  const connected = await Peer.connect(target.tcp);
  peers.push(connected);
  return connected;
}

const hop = (target: { tcp: number }): [string, number, string] => ['127.0.0.1', target.tcp, 'tcp'];

/** `from` subscribes at `at` to PATCH `resource` (a client asks `from` to BIND with `at` as the hop). */
async function bindAt(from: Gateway, at: { tcp: number }, resource: string[]): Promise<void> {
  const client = await peer(from);
  expect((await client.ask(bind('PATCH', resource, { host: [hop(at)] }))).status).toBe(200);
}

/** A raw subscriber bound at `target` itself. */
async function subscriber(target: Gateway, resource: string[]): Promise<Peer> {
  const client = await peer(target);
  expect((await client.ask(bind('PATCH', resource))).status).toBe(200);
  return client;
}

const patches = (client: Peer): number => client.received.filter((d) => d.method === 'PATCH').length;

async function subscriptionsAt(target: Gateway): Promise<number> {
  const client = await peer(target);
  return ((await client.ask(dispatch('GET', ['gateway', 'limits']))).body as { subscriptions: number }).subscriptions;
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function loopsDropped(target: Gateway): Promise<number> {
  const client = await peer(target);
  return ((await client.ask(dispatch('GET', ['gateway', 'limits']))).body as { loopsDropped: number }).loopsDropped;
}

/** Emits one PATCH at `target`, waits until each subscriber has one, then a while longer for any copy that circulates. */
async function emitOnce(target: Gateway, resource: string[], subscribers: Peer[]): Promise<number[]> {
  const emitter = await peer(target);
  emitter.send(dispatch('PATCH', resource, { body: { n: 1 } }));
  await waitFor(() => subscribers.every((each) => patches(each) >= 1), 'a PATCH at every subscriber', 10_000);
  await sleep(700);
  return subscribers.map(patches);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-loops-'));
  const config = join(dir, 'c.yaml');
  await writeFile(config, 'jstp:\n  forwarding: { enabled: true }\nlimits:\n  maxHops: 4\n  idleProbeMs: 0\n');
  [a, b, c, node] = await Promise.all([
    start('a', '--forwarding'),
    start('b', '--forwarding'),
    start('c', '--config', config),
    startNodeJstp({ tcpPort: 0 }),
  ]);
});

afterEach(() => {
  for (const each of peers.splice(0)) each.destroy();
});

afterAll(async () => {
  for (const run of runs) run.kill();
  for (const server of servers) server.close();
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('no loops between real gateways', () => {
  it('A bound at A, by its own address: the hop is taken off, the client is bound here, once', async () => {
    const client = await peer(a);
    expect((await client.ask(bind('PATCH', ['self', 'x'], { host: [hop(a)] }))).status).toBe(200);
    expect(await emitOnce(a, ['self', 'x'], [client])).toEqual([1]);
  });

  it('A bound at A through an address it cannot know is its own (a TCP proxy): the copy that comes back is dropped', async () => {
    // The proxy makes A forward the BIND to itself, so A's own outbound connection is subscribed at A.
    const proxy = net.createServer((socket) => {
      const upstream = net.connect({ host: '127.0.0.1', port: a.tcp });
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const before = await loopsDropped(a);
    const subscriptions = await subscriptionsAt(a);
    // Without a transaction: with one, A would meet its own transaction id and answer 400.
    const client = await peer(a);
    client.send(bind('PATCH', ['alias', 'x'], { host: [['127.0.0.1', (proxy.address() as net.AddressInfo).port, 'tcp']] }));
    await waitUntil(async () => (await subscriptionsAt(a)) === subscriptions + 1, "A's own outbound connection bound at A");
    const watcher = await subscriber(a, ['alias', 'x']);
    expect(await emitOnce(a, ['alias', 'x'], [watcher])).toEqual([1]);
    expect(await loopsDropped(a)).toBe(before + 1);
  });

  it('A and B bound at each other: each subscriber gets the PATCH exactly once', async () => {
    await bindAt(a, b, ['pair', 'x']);
    await bindAt(b, a, ['pair', 'x']);
    const [atA, atB] = [await subscriber(a, ['pair', 'x']), await subscriber(b, ['pair', 'x'])];
    const before = await loopsDropped(a);
    expect(await emitOnce(a, ['pair', 'x'], [atA, atB])).toEqual([1, 1]);
    expect(await loopsDropped(a)).toBe(before + 1);
  });

  it('A -> B -> C -> A: once around the ring, then dropped where it started', async () => {
    // C delivers to B, B to A, A to C.
    await bindAt(b, c, ['ring', 'x']);
    await bindAt(a, b, ['ring', 'x']);
    await bindAt(c, a, ['ring', 'x']);
    const watchers = [await subscriber(a, ['ring', 'x']), await subscriber(b, ['ring', 'x']), await subscriber(c, ['ring', 'x'])];
    const before = await Promise.all([a, b, c].map(loopsDropped));
    expect(await emitOnce(a, ['ring', 'x'], watchers)).toEqual([1, 1, 1]);
    const after = await Promise.all([a, b, c].map(loopsDropped));
    expect(after.map((count, index) => count - before[index]!)).toEqual([1, 0, 0]);
  });

  it('A and node-jstp bound at each other: node-jstp keeps the trace, so A drops what it sends back', async () => {
    const binding = await node.bind({ method: 'PATCH', resource: ['legacy', 'x'] }, { host: [hop(a)] });
    // node-jstp never answers a BIND: sent without a transaction, and seen in its table.
    const client = await peer(a);
    client.send(bind('PATCH', ['legacy', 'x'], { host: [hop({ tcp: node.tcpPort! })] }));
    await waitUntil(async () => (await node.state()).bound.filter((entry) => entry.resource[0] === 'legacy').length === 2, "A's BIND at node-jstp");
    const watcher = await subscriber(a, ['legacy', 'x']);
    const before = await loopsDropped(a);
    expect(await emitOnce(a, ['legacy', 'x'], [watcher])).toEqual([1]);
    expect(binding.items).toHaveLength(1);
    expect(binding.items[0]).toMatchObject({ method: 'PATCH', resource: ['legacy', 'x'], via: [expect.any(String)] });
    expect(await loopsDropped(a)).toBeGreaterThan(before);
    expect(await node.crashes()).toEqual([]);
  });
});

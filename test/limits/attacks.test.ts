/**
 * The attacks of the issue "A gateway that hostile peers cannot break", each against a
 * real gateway (startGateway, real sockets on port 0) by a peer with nothing but a
 * TCP socket, and what bounds it now. Limits are scaled down where that keeps a test
 * fast while still proving the bound. Dead peers: dead-peer.test.ts; loops between
 * real processes: loops.test.ts; the file descriptor limit: fd-limit.test.ts.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { encodeTextKeyed } from '../support/text-key-cbor.js';
import { waitFor } from '../transports/helpers.js';
import { bind, dispatch, nested, Peer } from './peers.js';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';

const gateways: Gateway[] = [];
const peers: Peer[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
});

async function gateway(limits: Record<string, unknown> = {}): Promise<Gateway> {
  const started = await startGateway(parseConfig({ listen: { tcp: 0, http: 0 }, jstp: { forwarding: { enabled: true } }, limits }, 'test'));
  gateways.push(started);
  return started;
}

async function peer(port: number, options: Parameters<typeof Peer.connect>[1] = {}): Promise<Peer> {
  const connected = await Peer.connect(port, options);
  peers.push(connected);
  return connected;
}

interface LimitsBody {
  exceeded: Record<string, number>;
  connections: { open: number; refused: number };
  pendingInputBytes: number;
  subscriptions: number;
}

async function limitsOf(target: Gateway): Promise<LimitsBody> {
  return (await target.engine.get(['gateway', 'limits'])).body as LimitsBody;
}

/** The status line a WebSocket upgrade request gets. */
function upgradeStatus(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  });
}

describe('memory amplification', () => {
  it('a BIND with a 200,000-element pattern (800 KB) is answered 400 and costs no subscription, sixty times over', async () => {
    const target = await gateway();
    const attacker = await peer(target.ports.tcp);
    const pattern = Array.from({ length: 200_000 }, (_, i) => `e${i % 10}`);
    const answers = [];
    for (let i = 0; i < 60; i++) answers.push(await attacker.ask(bind('PATCH', pattern), 20_000));
    expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([400]));
    expect(String((answers[0]!.body as { reason: string }).reason)).toMatch(/^maxResourceElements: /);
    expect(target.engine.stats().subscriptions).toBe((await limitsOf(target)).subscriptions);
    expect((await limitsOf(target)).exceeded.maxResourceElements).toBe(60);
    expect(attacker.closed).toBe(false);
  });

  it('too many bytes in few elements, and too many subscriptions on one connection, are refused too', async () => {
    const target = await gateway({ maxSubscriptionsPerConnection: 20 });
    const attacker = await peer(target.ports.tcp);
    expect((await attacker.ask(bind('PATCH', ['x'.repeat(2000)]))).status).toBe(400);
    for (let i = 0; i < 20; i++) expect((await attacker.ask(bind('PATCH', ['devices', `d${i}`]))).status).toBe(200);
    const over = await attacker.ask(bind('PATCH', ['devices', 'one-more']));
    expect(over).toMatchObject({ status: 400, body: { reason: expect.stringMatching(/^maxSubscriptionsPerConnection: /) } });
    // Binding what it already holds changes nothing, so it still succeeds at the limit.
    expect((await attacker.ask(bind('PATCH', ['devices', 'd3']))).status).toBe(200);
    // Another connection has its own allowance.
    const other = await peer(target.ports.tcp);
    expect((await other.ask(bind('PATCH', ['devices', 'd1']))).status).toBe(200);
    expect((await limitsOf(target)).exceeded).toMatchObject({ maxResourceBytes: 1, maxSubscriptionsPerConnection: 1 });
  });

  it('an over-limit BIND without a transaction cannot be answered: the connection is closed with the reason', async () => {
    const target = await gateway();
    const attacker = await peer(target.ports.tcp);
    attacker.send(bind('PATCH', Array.from({ length: 100 }, () => 'a')));
    await attacker.closedByGateway();
    expect(target.engine.stats().subscriptions).toBe((await limitsOf(target)).subscriptions);
  });
});

describe('a frozen event loop', () => {
  it("the issue's BIND [..., a x 20000, b] and PATCH of 40,000 a are refused, and other clients are served meanwhile", async () => {
    const target = await gateway();
    const attacker = await peer(target.ports.tcp);
    const bystander = await peer(target.ports.tcp);
    const pattern = ['...', ...Array.from({ length: 20_000 }, () => 'a'), 'b'];
    const resource = Array.from({ length: 40_000 }, () => 'a');
    const started = Date.now();
    const [bound, patched, served] = await Promise.all([
      attacker.ask(bind('PATCH', pattern)),
      attacker.ask(dispatch('PATCH', resource)),
      bystander.ask(dispatch('GET', ['gateway'])),
    ]);
    expect([bound.status, patched.status, served.status]).toEqual([400, 400, 200]);
    // Before: about 15 s of one matching task. Generous: this machine is shared.
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('the longest allowed pattern with ... against the longest allowed resource, a thousand times, keeps the gateway responsive', async () => {
    const target = await gateway();
    const subscriber = await peer(target.ports.tcp);
    const attacker = await peer(target.ports.tcp);
    const bystander = await peer(target.ports.tcp);
    // 32 elements each: the defaults' maximum. Every a fits, the last element never.
    expect((await subscriber.ask(bind('PATCH', ['...', ...Array.from({ length: 30 }, () => 'a'), 'b']))).status).toBe(200);
    expect((await subscriber.ask(bind('PATCH', ['...', 'a', 'a', '...', 'a', '*', 'a', '...', ...Array.from({ length: 24 }, () => 'a')]))).status).toBe(200);
    const resource = Array.from({ length: 32 }, () => 'a');
    const started = Date.now();
    for (let i = 0; i < 1000; i++) attacker.send(dispatch('PATCH', resource));
    expect((await bystander.ask(dispatch('GET', ['gateway']))).status).toBe(200);
    // The second pattern matches all thousand, the first none.
    await waitFor(() => subscriber.received.filter((d) => d.method === 'PATCH').length === 1000, 'the deliveries');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('forwarding: hops', () => {
  it('a host list of 20,000 hops is answered 400 at once; the longest allowed list naming the gateway itself is processed here', async () => {
    const target = await gateway();
    const client = await peer(target.ports.tcp);
    const self: [string, number, string] = ['127.0.0.1', target.ports.tcp, 'tcp'];
    const started = Date.now();
    const long = await client.ask(dispatch('GET', ['gateway'], { host: Array.from({ length: 20_000 }, () => self) }));
    expect(long).toMatchObject({ status: 400, body: { reason: expect.stringMatching(/^maxHops: /) } });
    const eight = await client.ask(dispatch('GET', ['gateway'], { host: Array.from({ length: 8 }, () => self) }));
    expect(eight).toMatchObject({ status: 200, body: { name: 'pasarela', id: target.engine.id } });
    expect(Date.now() - started).toBeLessThan(3_000);
    // Never forwarded: no outbound connection to itself was opened.
    expect(target.engine.stats().channels).toBe(1);
  });

  it('a via trace longer than the hop limit, or not a list of ids, is refused', async () => {
    const target = await gateway();
    const client = await peer(target.ports.tcp);
    const long = await client.ask(dispatch('PATCH', ['x'], { via: Array.from({ length: 9 }, (_, i) => `e${i}`) }));
    const bad = await client.ask(dispatch('PATCH', ['x'], { via: [{ id: 1 }] }));
    expect([long.status, bad.status]).toEqual([400, 400]);
  });
});

describe('deep values', () => {
  for (const wire of ['json', 'cbor'] as const) {
    it(`over ${wire}: a body nested past the limit is answered 400 at entry, for a request too (no 504)`, async () => {
      const target = await gateway();
      const subscriber = await peer(target.ports.tcp, { wire });
      expect((await subscriber.ask(bind('*', ['things', '...']))).status).toBe(200);
      const sender = await peer(target.ports.tcp, { wire });
      const started = Date.now();
      const patch = await sender.ask(dispatch('PATCH', ['things', 'deep'], { body: nested(20) }));
      const get = await sender.ask(dispatch('GET', ['things', 'deep'], { body: nested(17) }));
      expect(patch).toMatchObject({ status: 400, body: { reason: expect.stringMatching(/^maxDepth: body/) } });
      expect(get.status).toBe(400);
      expect(Date.now() - started).toBeLessThan(3_000);
      // At the limit it reaches every subscriber, whatever their encoding.
      sender.send(dispatch('PATCH', ['things', 'ok'], { body: nested(16) }));
      await waitFor(() => subscriber.received.some((d) => d.method === 'PATCH'), 'the PATCH at the limit');
      expect(subscriber.received.filter((d) => d.method === 'PATCH').map((d) => d.resource)).toEqual([['things', 'ok']]);
      expect((subscriber.received.find((d) => d.method === 'PATCH') as { body: unknown }).body).toEqual(nested(16));
    });
  }

  it('subscribers in JSON and in CBOR both get what was accepted, and neither gets what was not', async () => {
    const target = await gateway();
    const json = await peer(target.ports.tcp, { wire: 'json' });
    const cbor = await peer(target.ports.tcp, { wire: 'cbor' });
    for (const each of [json, cbor]) expect((await each.ask(bind('PATCH', ['things', '*']))).status).toBe(200);
    const sender = await peer(target.ports.tcp);
    // Fire and forget, too deep: nothing to answer, so the sender is closed with the reason.
    sender.send(dispatch('PATCH', ['things', 'deep'], { body: nested(40) }));
    await sender.closedByGateway();
    const next = await peer(target.ports.tcp);
    next.send(dispatch('PATCH', ['things', 'fine'], { body: nested(16) }));
    await waitFor(() => json.received.some((d) => d.method === 'PATCH') && cbor.received.some((d) => d.method === 'PATCH'), 'both deliveries');
    for (const each of [json, cbor]) expect(each.received.filter((d) => d.method === 'PATCH').map((d) => d.resource)).toEqual([['things', 'fine']]);
  });

  it('CBOR deeper than its decoder reads closes the connection: it cannot be answered', async () => {
    const target = await gateway();
    const sender = await peer(target.ports.tcp, { wire: 'cbor' });
    const deep = { ...dispatch('PATCH', ['things', 'x'], { body: nested(40) }), token: ['tx'] } as unknown as Dispatch;
    sender.socket.write(encodeTextKeyed(deep));
    await sender.closedByGateway();
  });
});

describe('unbounded totals', () => {
  it('connections in total and per address: the ones over are refused, the open ones keep being served', async () => {
    const target = await gateway({ maxConnections: 12, maxConnectionsPerAddress: 5 });
    const open: Peer[] = [];
    for (let i = 0; i < 5; i++) open.push(await peer(target.ports.tcp, { localAddress: '127.0.0.1' }));
    const refusedPerAddress = await peer(target.ports.tcp, { localAddress: '127.0.0.1' });
    await refusedPerAddress.closedByGateway();
    for (let i = 0; i < 5; i++) open.push(await peer(target.ports.tcp, { localAddress: '127.0.0.2' }));
    open.push(await peer(target.ports.tcp, { localAddress: '127.0.0.3' }), await peer(target.ports.tcp, { localAddress: '127.0.0.3' }));
    const refusedTotal = await peer(target.ports.tcp, { localAddress: '127.0.0.4' });
    await refusedTotal.closedByGateway();
    const answers = await Promise.all(open.map((each) => each.ask(dispatch('GET', ['gateway']))));
    expect(answers.map((answer) => answer.status)).toEqual(open.map(() => 200));
    const stats = await limitsOf(target);
    expect(stats.connections).toEqual({ open: 12, refused: 2 });
    expect(stats.exceeded).toMatchObject({ maxConnections: 1, maxConnectionsPerAddress: 1 });
    // A WebSocket peer counts against the same total, and hears why it was refused.
    expect(await upgradeStatus(target.ports.http)).toMatch(/^HTTP\/1\.1 503 /);
    open[0]!.destroy();
    await waitFor(() => target.engine.stats().channels === 11, 'the close');
    expect((await (await peer(target.ports.tcp, { localAddress: '127.0.0.1' })).ask(dispatch('GET', ['gateway']))).status).toBe(200);
  });

  it('many connections holding unfinished lines never hold more than the budget, and each has the line timeout to finish', async () => {
    const budget = 256 * 1024;
    const target = await gateway({ maxPendingInputBytes: budget, lineTimeoutMs: 1_500, maxConnectionsPerAddress: 1000 });
    const bystander = await peer(target.ports.tcp);
    const holders: Peer[] = [];
    let highest = 0;
    // 200 x 16 KiB would be 3.2 MiB: the budget holds 256 KiB of it at most.
    for (let i = 0; i < 200; i++) {
      const holder = await peer(target.ports.tcp);
      holder.socket.write(`{"protocol":["JSTP","0.5"],"method":"PATCH","body":"${'x'.repeat(16 * 1024)}`);
      holders.push(holder);
      if (i % 20 === 19) {
        const stats = await limitsOf(target);
        highest = Math.max(highest, stats.pendingInputBytes);
      }
    }
    expect(highest).toBeLessThanOrEqual(budget);
    expect(highest).toBeGreaterThan(budget / 2);
    expect(holders.filter((holder) => holder.closed).length).toBeGreaterThan(150);
    expect((await bystander.ask(dispatch('GET', ['gateway']))).status).toBe(200);
    // The rest run out of time.
    await waitFor(() => holders.every((holder) => holder.closed), 'the line timeout', 10_000);
    const stats = await limitsOf(target);
    expect(stats.pendingInputBytes).toBe(0);
    expect(stats.exceeded.maxPendingInputBytes).toBeGreaterThan(150);
    expect(stats.exceeded.lineTimeoutMs).toBeGreaterThan(0);
    expect(bystander.closed).toBe(false);
  });

  it('a line longer than the dispatch limit closes its connection', async () => {
    const target = await gateway({ maxDispatchBytes: 4096 });
    const sender = await peer(target.ports.tcp);
    sender.socket.write('x'.repeat(5000));
    await sender.closedByGateway();
    expect((await limitsOf(target)).exceeded.maxDispatchBytes).toBe(1);
  });
});

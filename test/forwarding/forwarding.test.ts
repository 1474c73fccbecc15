/**
 * The automatic gateway over real loopback sockets: engines A, B and C, each with
 * TCP and WebSocket transports, forwarding through their pools.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { ForwardingPool, parseAllowEntry, type ForwardingPoolOptions } from '../../gateway/forwarding.js';
import type { Hop } from '../../gateway/jstp/dispatch.js';
import { AnswerError, Engine } from '../../gateway/jstp/engine.js';
import { Status } from '../../gateway/jstp/errors.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { until } from '../support/until.js';

const cleanups = cleanupsAfterEach();

interface Node {
  name: string;
  engine: Engine;
  pool: ForwardingPool;
  tcp: TcpTransport;
  ws: WsTransport;
  tcpHop: Hop;
  wsHop: Hop;
  stop(): Promise<void>;
}

/** An engine answering `GET [name, ...]` with its name, behind TCP and WS, with a pool. */
async function startNode(name: string, forwarding: Partial<ForwardingPoolOptions> = { enabled: true }): Promise<Node> {
  const engine = new Engine({ answerTimeoutMs: 3_000 });
  engine.bind({ method: 'GET', resource: [name, '...'] }, (incoming) => ({ from: name, resource: incoming.resource, body: incoming.body }));
  const pool = new ForwardingPool({ engine, connectTimeoutMs: 1_000, ...forwarding }).install();
  const tcp = new TcpTransport({ engine });
  const ws = new WsTransport({ engine, heartbeatMs: 0 });
  const [tcpAddress, wsAddress] = await Promise.all([tcp.listen(), ws.listen()]);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await pool.close();
    await Promise.all([tcp.close(), ws.close()]);
    engine.close();
  };
  cleanups.push(stop);
  return {
    name,
    engine,
    pool,
    tcp,
    ws,
    tcpHop: ['127.0.0.1', tcpAddress.port, 'tcp'],
    wsHop: ['127.0.0.1', wsAddress.port, 'ws'],
    stop,
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function statusOf(reply: PromiseLike<unknown>): Promise<number | undefined> {
  try {
    await reply;
    return 200;
  } catch (error) {
    if (error instanceof AnswerError) return error.status;
    throw error;
  }
}

describe('forwarding across engines', () => {
  it('A -> B -> C over tcp: C processes it, the answer comes back to A', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')]);
    const reply = a.engine.get(['c', 'status'], { q: 1 }, { host: [b.tcpHop, c.tcpHop] });
    const answers = await reply.all();
    expect(answers.map((answer) => answer.status)).toEqual([200]);
    expect(answers[0]!.body).toEqual({ from: 'c', resource: ['c', 'status'], body: { q: 1 } });
    expect(a.pool.stats().connections).toEqual([`127.0.0.1:${b.tcpHop[1]}:tcp`]);
    expect(b.pool.stats().connections).toEqual([`127.0.0.1:${c.tcpHop[1]}:tcp`]);
    // Every transaction ended on every engine (101 travelled back along the hops).
    await until(() => [a, b, c].every((node) => node.engine.stats().transactions === 0), 'transactions to end');
    expect(b.engine.stats().pendingTriggers).toBe(0);
  });

  it('A -> B over ws -> C over tcp, and A -> B over tcp -> C over ws', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')]);
    const first = await a.engine.get(['c', 1], undefined, { host: [b.wsHop, c.tcpHop] });
    expect(first.body).toMatchObject({ from: 'c', resource: ['c', 1] });
    const second = await a.engine.get(['c', 2], undefined, { host: [b.tcpHop, c.wsHop] });
    expect(second.body).toMatchObject({ from: 'c', resource: ['c', 2] });
    expect(b.ws.stats().accepted).toBe(1);
    expect(c.ws.stats().accepted).toBe(1);
  });

  it('collects every answer of a multi-answer set across two hops', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')]);
    c.engine.bind({ method: 'GET', resource: ['c', '*'] }, () => ({ second: true }));
    const answers = await a.engine.get(['c', 'x'], undefined, { host: [b.tcpHop, c.tcpHop] }).all();
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers.map((answer) => answer.body)).toContainEqual({ second: true });
    expect(new Set(answers.map((answer) => answer.triggeringId)).size).toBe(2);
  });

  it('a client connected to A reaches C through A and B', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')]);
    const client = connect(`tcp://127.0.0.1:${a.tcpHop[1]}`, { answerTimeoutMs: 3_000 });
    cleanups.push(() => client.close());
    await client.ready();
    const answer = await client.get(['c', 'via'], undefined, { host: [b.tcpHop, c.wsHop] });
    expect(answer.body).toMatchObject({ from: 'c' });
  });

  it('reuses one connection for every dispatch to the same hop', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')]);
    const replies = [a.engine.get(['b', 1], undefined, { host: [b.tcpHop] }), a.engine.get(['b', 2], undefined, { host: [b.tcpHop] })];
    const answers = await Promise.all(replies);
    expect(answers.map((answer) => (answer.body as { resource: unknown[] }).resource)).toEqual([['b', 1], ['b', 2]]);
    a.engine.emit('GET', ['b', 3], undefined, { host: [b.tcpHop] });
    expect((await a.engine.get(['b', 4], undefined, { host: [b.tcpHop] })).status).toBe(200);
    expect(b.tcp.stats().accepted).toBe(1);
    expect(a.pool.stats().connections).toHaveLength(1);
    expect(a.pool.stats().forwarded).toBe(4);
  });

  it('forwards dispatches without a transaction (fire and forget)', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')]);
    const seen: unknown[] = [];
    b.engine.bind({ method: 'PATCH', resource: ['log'] }, (incoming) => void seen.push(incoming.body));
    a.engine.emit('PATCH', ['log'], { n: 1 }, { host: [b.wsHop] });
    await until(() => seen.length === 1, 'the PATCH at B');
    expect(seen).toEqual([{ n: 1 }]);
  });
});

describe('forwarding refusals and failures', () => {
  it('409 for an unknown transport label', async () => {
    const a = await startNode('a');
    const reply = a.engine.get(['x'], undefined, { host: [['127.0.0.1', 1, 'carrier-pigeon']] });
    expect(await statusOf(reply)).toBe(Status.UnrecognizedTransport);
    expect(a.pool.stats().refused).toBe(1);
  });

  it('502, fast, when the hop does not accept connections', async () => {
    const a = await startNode('a');
    const port = await closedPort();
    for (const label of ['tcp', 'ws']) {
      const started = Date.now();
      expect(await statusOf(a.engine.get(['x'], undefined, { host: [['127.0.0.1', port, label]] }))).toBe(Status.UnreachableHost);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
    expect(a.pool.stats().connections).toEqual([]);
  });

  it('502 from the middle: B cannot reach C, A gets the answer', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')]);
    const port = await closedPort();
    const reply = a.engine.get(['x'], undefined, { host: [b.tcpHop, ['127.0.0.1', port, 'tcp']] });
    expect(await statusOf(reply)).toBe(Status.UnreachableHost);
  });

  it('502 for what is in flight when the hop connection drops', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')]);
    b.engine.bind({ method: 'GET', resource: ['never'] }, () => new Promise(() => undefined));
    const reply = a.engine.get(['never'], undefined, { host: [b.tcpHop] });
    await until(() => b.engine.stats().pendingTriggers === 1, 'the dispatch at B');
    const started = Date.now();
    await b.stop();
    expect(await statusOf(reply)).toBe(Status.UnreachableHost);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(a.engine.stats().transactions).toBe(0);
    // The next dispatch to that hop dials again (and fails: B is gone).
    expect(await statusOf(a.engine.get(['b'], undefined, { host: [b.tcpHop] }))).toBe(Status.UnreachableHost);
  });

  it('506 when forwarding is disabled (the default)', async () => {
    const [a, b] = await Promise.all([startNode('a', {}), startNode('b')]);
    expect(a.pool.enabled).toBe(false);
    expect(await statusOf(a.engine.get(['b'], undefined, { host: [b.tcpHop] }))).toBe(Status.GatewayDisabled);
    expect(b.tcp.stats().accepted).toBe(0);
  });

  it('506 from the middle hop when B forwards nothing', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b', { enabled: false }), startNode('c')]);
    expect(await statusOf(a.engine.get(['c'], undefined, { host: [b.tcpHop, c.tcpHop] }))).toBe(Status.GatewayDisabled);
    expect(c.tcp.stats().accepted).toBe(0);
  });

  it('506 for a hop that is not in the allow-list; listed hops (host:port, host:*) pass', async () => {
    const [b, c] = await Promise.all([startNode('b'), startNode('c')]);
    const a = await startNode('a', { enabled: true, allow: [`127.0.0.1:${b.tcpHop[1]}`, 'localhost:*'] });
    expect(await statusOf(a.engine.get(['c'], undefined, { host: [c.tcpHop] }))).toBe(Status.GatewayDisabled);
    expect(c.tcp.stats().accepted).toBe(0);
    expect(await statusOf(a.engine.get(['b'], undefined, { host: [b.tcpHop] }))).toBe(200);
    expect(await statusOf(a.engine.get(['c'], undefined, { host: [['localhost', c.tcpHop[1], 'tcp']] }))).toBe(200);
    expect(a.pool.allows(['LOCALHOST', 1, 'tcp'])).toBe(true);
    expect(a.pool.allows(['127.0.0.1', b.tcpHop[1] + 1, 'tcp'])).toBe(false);
  });

  it('rejects malformed allow-list entries', () => {
    expect(parseAllowEntry('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseAllowEntry('gw.local:*')).toEqual({ host: 'gw.local', port: undefined });
    for (const bad of ['gw.local', ':80', 'gw:port', 'gw:70000']) {
      expect(() => parseAllowEntry(bad), bad).toThrow(/forwarding.allow/);
    }
  });
});

describe('forwarding pool lifecycle', () => {
  it('closes idle connections, then dials again when needed', async () => {
    const b = await startNode('b');
    const a = await startNode('a', { enabled: true, idleTimeoutMs: 100 });
    expect((await a.engine.get(['b'], undefined, { host: [b.tcpHop] })).status).toBe(200);
    expect(a.pool.stats().connections).toHaveLength(1);
    await until(() => a.pool.stats().connections.length === 0, 'the idle connection to close');
    await until(() => b.tcp.stats().connections === 0, 'B to see it close');
    expect((await a.engine.get(['b'], undefined, { host: [b.tcpHop] })).status).toBe(200);
    expect(b.tcp.stats().accepted).toBe(2);
  });

  it('close() ends every outbound connection; later forwards get 502', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')]);
    await a.engine.get(['b'], undefined, { host: [b.tcpHop] });
    await a.engine.get(['b'], undefined, { host: [b.wsHop] });
    expect(a.pool.stats().connections).toHaveLength(2);
    await a.pool.close();
    expect(a.pool.stats().connections).toHaveLength(0);
    await until(() => b.tcp.stats().connections === 0 && b.ws.stats().connections === 0, 'B to see both close');
    // A forwarder may throw or reject: either way the engine answers with the status.
    await expect(
      (async () => a.pool.forwarder({ protocol: ['JSTP', '0.5'], method: 'GET', resource: ['b'], timestamp: 0 }, b.tcpHop, undefined))(),
    ).rejects.toMatchObject({ status: Status.UnreachableHost });
    // Uninstalled from the engine, which then refuses forwarding itself.
    expect(await statusOf(a.engine.get(['b'], undefined, { host: [b.tcpHop] }))).toBe(Status.GatewayDisabled);
  });
});

/**
 * Pasarela and node-jstp (npm `jstp` 1.1.5) over real TCP and WebSocket sockets,
 * in both directions. Each node-jstp engine runs in a child process of its own
 * (test/support/node-jstp.ts), so its singleton state cannot leak between tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { ForwardingPool } from '../../gateway/forwarding.js';
import type { Hop } from '../../gateway/jstp/dispatch.js';
import { Engine, type Incoming } from '../../gateway/jstp/engine.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import { startNodeJstp, type NodeJstpPeer } from '../support/node-jstp.js';
import { until } from '../support/until.js';

const settle = (ms = 150): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A Pasarela gateway: engine, TCP and WS transports, forwarding on. */
interface Pasarela {
  engine: Engine;
  pool: ForwardingPool;
  tcp: TcpTransport;
  ws: WsTransport;
  hops: { tcp: Hop; ws: Hop };
  close(): Promise<void>;
}

async function startPasarela(): Promise<Pasarela> {
  const engine = new Engine({ answerTimeoutMs: 3_000 });
  const pool = new ForwardingPool({ engine, enabled: true, connectTimeoutMs: 1_000 }).install();
  const tcp = new TcpTransport({ engine });
  const ws = new WsTransport({ engine, heartbeatMs: 0 });
  const [tcpAddress, wsAddress] = await Promise.all([tcp.listen(), ws.listen()]);
  return {
    engine,
    pool,
    tcp,
    ws,
    hops: { tcp: ['127.0.0.1', tcpAddress.port, 'tcp'], ws: ['127.0.0.1', wsAddress.port, 'ws'] },
    async close() {
      await pool.close();
      await Promise.all([tcp.close(), ws.close()]);
      engine.close();
    },
  };
}

let pasarela: Pasarela;
/** node-jstp with TCP and WS servers: Pasarela forwards to it. */
let server: NodeJstpPeer;
/** node-jstp without servers: it forwards to Pasarela and binds there. */
let client: NodeJstpPeer;

beforeAll(async () => {
  [pasarela, server, client] = await Promise.all([
    startPasarela(),
    startNodeJstp({ tcpPort: 0, wsPort: 0, answerTimeoutMs: 1_500 }),
    startNodeJstp({ answerTimeoutMs: 1_500 }),
  ]);
});

afterAll(async () => {
  await Promise.all([server?.close(), client?.close()]);
  await pasarela?.close();
});

const nodeHop = (label: 'tcp' | 'ws'): Hop => ['127.0.0.1', (label === 'tcp' ? server.tcpPort : server.wsPort) ?? -1, label];

describe.each(['tcp', 'ws'] as const)('over %s', (label) => {
  it('node-jstp forwards a GET to Pasarela and receives the ANSWER', async () => {
    const seen: Incoming[] = [];
    const unbind = pasarela.engine.bind({ method: 'GET', resource: ['devices', ':id'] }, (incoming) => {
      seen.push(incoming);
      return { id: incoming.params.id, title: 'Cafetera' };
    });
    const request = await client.request({
      method: 'GET',
      resource: ['devices', `coffee-${label}`],
      host: [pasarela.hops[label]],
      body: { fields: ['title'] },
    });

    const [answer] = await request.waitFor(1);
    expect(answer).toMatchObject({
      method: 'ANSWER',
      resource: [200, request.transactionId, expect.any(String)],
      body: { id: `coffee-${label}`, title: 'Cafetera' },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toEqual({ fields: ['title'] });
    expect(seen[0]!.dispatch.protocol).toEqual(['JSTP', '0.4']);
    // node-jstp speaks 0.4: no 101 follows, it would read it as one more answer.
    await settle();
    expect(request.items).toHaveLength(1);
    expect(pasarela.engine.stats().transactions).toBe(0);
    expect(await client.crashes()).toEqual([]);
    unbind();
  });

  it('Pasarela forwards to node-jstp and receives its ANSWER back', async () => {
    const binding = await server.bind({ method: 'GET', resource: ['robot', '*'] }, { answers: [{ status: 200, body: { arm: 'up' } }] });
    const answers = await pasarela.engine.get(['robot', `arm-${label}`], { q: 1 }, { host: [nodeHop(label)] }).all();
    expect(answers.map((answer) => answer.status)).toEqual([200]);
    expect(answers[0]!.body).toEqual({ arm: 'up' });
    expect(answers[0]!.dispatch.protocol).toEqual(['JSTP', '0.4']);

    const [received] = await binding.waitFor(1);
    expect(received).toMatchObject({ method: 'GET', resource: ['robot', `arm-${label}`], body: { q: 1 }, protocol: ['JSTP', '0.5', 'pasarela'] });
    expect(received).not.toHaveProperty('host');
    expect(pasarela.engine.stats().transactions).toBe(0);
    // node-jstp's RELEASE ANSWER [*, tx, *] before its answer changed nothing here.
    expect(pasarela.engine.stats().invalid).toBe(0);
    await binding.release();
  });

  it('a node-jstp client BINDs on Pasarela and receives the matching dispatches', async () => {
    const before = pasarela.engine.stats().subscriptions;
    const endpoint = { method: 'PATCH', resource: ['devices', '*', 'properties', 'temperature'] };
    const binding = await client.bind(endpoint, { host: [pasarela.hops[label]], answers: [{ status: 200, body: { ok: label } }] });
    await until(() => pasarela.engine.stats().subscriptions === before + 1, 'the BIND at Pasarela');

    pasarela.engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 21.5 });
    pasarela.engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'humidity'], { value: 40 });
    pasarela.engine.emit('PATCH', ['devices', 'rover', 'properties', 'temperature'], { value: 30 });
    const got = await binding.waitFor(2);
    expect(got.map((dispatch) => [dispatch.resource?.[1], dispatch.body])).toEqual([
      ['kitchen', { value: 21.5 }],
      ['rover', { value: 30 }],
    ]);

    // With a transaction: node-jstp's subscriber answers, and the answer reaches us.
    const answer = await pasarela.engine.patch(['devices', 'porch', 'properties', 'temperature'], { value: 3 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: label });
    await settle();
    expect(binding.items).toHaveLength(3);

    await binding.release();
    await until(() => pasarela.engine.stats().subscriptions === before, 'the RELEASE at Pasarela');
    expect(await client.crashes()).toEqual([]);
  });
});

describe('through both engines', () => {
  it('node-jstp -> Pasarela -> node-jstp: the answer comes back to the first', async () => {
    const binding = await server.bind({ method: 'POST', resource: ['devices', '*', 'actions', 'brew'] }, { answers: ['echo'] });
    const request = await client.request({
      method: 'POST',
      resource: ['devices', 'coffee', 'actions', 'brew'],
      host: [pasarela.hops.tcp, nodeHop('ws')],
      body: { cups: 2 },
    });
    const [answer] = await request.waitFor(1);
    expect(answer?.resource?.slice(0, 2)).toEqual([200, request.transactionId]);
    expect(answer?.body).toMatchObject({ method: 'POST', body: { cups: 2 } });
    expect(binding.items).toHaveLength(1);
    await binding.release();
  });

  it('the Pasarela client reaches node-jstp through the gateway', async () => {
    const binding = await server.bind({ method: 'GET', resource: ['robot', 'battery'] }, { answers: [{ status: 200, body: 87 }] });
    const pasarelaClient = connect(`ws://127.0.0.1:${pasarela.hops.ws[1]}/`, { answerTimeoutMs: 3_000 });
    try {
      await pasarelaClient.ready();
      const answer = await pasarelaClient.get(['robot', 'battery'], undefined, { host: [nodeHop('tcp')] });
      expect(answer.body).toBe(87);
    } finally {
      await pasarelaClient.close();
      await binding.release();
    }
  });
});

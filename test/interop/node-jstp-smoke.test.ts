/**
 * Proves test/support/node-jstp.ts against node-jstp itself: two node-jstp engines
 * (two child processes) talking over real TCP and WebSocket sockets. Interop tests
 * with our gateway use the same helpers with one side replaced.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeJstp, type NodeJstpPeer } from '../support/node-jstp.js';

const tcpHop = (peer: NodeJstpPeer): [string, number, string] => ['127.0.0.1', peer.tcpPort ?? -1, 'tcp'];
const wsHop = (peer: NodeJstpPeer): [string, number, string] => ['127.0.0.1', peer.wsPort ?? -1, 'ws'];

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('node-jstp helpers (node-jstp <-> node-jstp)', () => {
  let server: NodeJstpPeer;
  let client: NodeJstpPeer;

  beforeAll(async () => {
    [server, client] = await Promise.all([
      startNodeJstp({ tcpPort: 0, wsPort: 0, answerTimeoutMs: 2_000 }),
      startNodeJstp({ answerTimeoutMs: 2_000 }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([server?.close(), client?.close()]);
  });

  it('starts servers on free ports, in a process of their own', async () => {
    expect(server.tcpPort).toBeGreaterThan(0);
    expect(server.wsPort).toBeGreaterThan(0);
    expect(server.tcpPort).not.toBe(33333);
    expect(client.tcpPort).toBeUndefined();
    expect(server.pid).not.toBe(client.pid);
    expect(await connects(server.tcpPort ?? -1)).toBe(true);
  });

  it('forwards a request over TCP and collects the answer', async () => {
    const binding = await server.bind(
      { method: 'GET', resource: ['devices', '*'] },
      { answers: [{ status: 200, body: { title: 'Cafetera' } }] },
    );
    const request = await client.request({
      method: 'GET',
      resource: ['devices', 'coffee'],
      host: [tcpHop(server)],
      body: { fields: ['title'] },
    });

    const [answer] = await request.waitFor(1);
    expect(answer).toMatchObject({
      method: 'ANSWER',
      resource: [200, request.transactionId, expect.any(String)],
      body: { title: 'Cafetera' },
      token: [],
    });
    const [received] = await binding.waitFor(1);
    expect(received).toMatchObject({
      method: 'GET',
      resource: ['devices', 'coffee'],
      body: { fields: ['title'] },
      protocol: ['JSTP', '0.4'],
    });
    // node-jstp keeps the transaction id and adds its triggering id; `host` is gone.
    expect(received?.token).toEqual([request.transactionId, answer?.resource?.[2]]);
    expect(received).not.toHaveProperty('host');
    await binding.release();
  });

  it('forwards over WebSocket too', async () => {
    const binding = await server.bind({ method: 'POST', resource: ['devices', '*', 'actions', '*'] }, { answers: ['echo'] });
    const request = await client.request({
      method: 'POST',
      resource: ['devices', 'coffee', 'actions', 'brew'],
      host: [wsHop(server)],
      body: { cups: 2 },
    });
    const [answer] = await request.waitFor(1);
    expect(answer?.resource?.[0]).toBe(200);
    expect(answer?.body).toMatchObject({ method: 'POST', resource: ['devices', 'coffee', 'actions', 'brew'], body: { cups: 2 } });
    expect(binding.items).toHaveLength(1);
    await binding.release();
  });

  it('binds remotely and receives what the server emits, until the connection goes', async () => {
    const endpoint = { method: 'PATCH', resource: ['devices', '*', 'properties', 'temperature'] };
    const subscription = await client.bind(endpoint, { host: [tcpHop(server)] });

    const bound = await eventually(
      () => server.state(),
      (state) => state.bound.some((b) => b.method === 'PATCH'),
    );
    expect(bound.bound).toContainEqual({ method: 'PATCH', resource: endpoint.resource, host: [] });
    expect(bound.tcpConnections).toBe(1);

    await server.emit({ method: 'PATCH', resource: ['devices', 'kitchen', 'properties', 'temperature'], body: { value: 21.5 } });
    await server.emit({ method: 'PATCH', resource: ['devices', 'kitchen', 'properties', 'humidity'], body: { value: 40 } });
    await server.emit({ method: 'PATCH', resource: ['devices', 'rover', 'properties', 'temperature'], body: { value: 30 } });

    const got = await subscription.waitFor(2);
    expect(got.map((d) => [d.resource?.[1], d.body])).toEqual([
      ['kitchen', { value: 21.5 }],
      ['rover', { value: 30 }],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(subscription.items).toHaveLength(2);

    // node-jstp releases a connection's subscriptions when that connection ends.
    await client.close();
    const after = await eventually(
      () => server.state(),
      (state) => state.tcpConnections === 0,
    );
    expect(after.tcpConnections).toBe(0);
    expect(after.bound.some((b) => b.method === 'PATCH')).toBe(false);
  });

  it('keeps node-jstp quiet on stdout but readable, and records no crash', async () => {
    const logs = await server.logs();
    expect(logs.some((line) => line.includes('TCP server bound on port'))).toBe(true);
    expect(logs.every((line) => !line.includes('\x1b['))).toBe(true);
    expect(await server.crashes()).toEqual([]);
  });

  it('closes: the port stops accepting connections', async () => {
    const port = server.tcpPort ?? -1;
    await server.close();
    expect(await connects(port)).toBe(false);
    await expect(server.state()).rejects.toThrow(/exited/);
  });
});

/** A raw JSON-lines TCP client, to see exactly what node-jstp writes. */
async function rawClient(port: number): Promise<{ socket: net.Socket; lines: string[]; send(value: unknown): void }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const lines: string[] = [];
  let rest = '';
  socket.setEncoding('utf8').on('data', (text: string) => {
    const parts = (rest + text).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line !== ''));
  });
  return { socket, lines, send: (value) => socket.write(`${JSON.stringify(value)}\n`) };
}

const settle = (ms = 150): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('what node-jstp does with dispatches it did not write (facts docs/node-jstp.md relies on)', () => {
  let peer: NodeJstpPeer;

  beforeAll(async () => {
    peer = await startNodeJstp({ tcpPort: 0, answerTimeoutMs: 1_000 });
  });

  afterAll(async () => {
    await peer?.close();
  });

  it('takes a 0.5 dispatch with unknown headers, and sends RELEASE before the ANSWER', async () => {
    const binding = await peer.bind({ method: 'GET', resource: ['gateway'] }, { answers: [{ status: 200, body: 'ok' }, { status: 101 }] });
    const raw = await rawClient(peer.tcpPort ?? -1);
    const transactionId = '0b6f3a52-5c1e-4b8e-9d51-3f2a9c1e7d10';
    raw.send({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'GET', resource: ['gateway'], timestamp: Date.now(), token: [transactionId], 'x-trace': 7 });

    const [received] = await binding.waitFor(1);
    expect(received).toMatchObject({ protocol: ['JSTP', '0.5', 'pasarela'], 'x-trace': 7 });
    await settle();
    const sent = raw.lines.map((line) => JSON.parse(line) as { method: string; resource?: unknown[]; endpoint?: { resource: unknown[] } });
    // Its second answer (101) comes after the transaction closed: dropped.
    expect(sent.map((d) => d.method)).toEqual(['RELEASE', 'ANSWER']);
    expect(sent[0]?.endpoint?.resource).toEqual(['*', transactionId, '*']);
    expect(sent[1]?.resource).toEqual([200, transactionId, received?.token?.[1]]);
    raw.socket.end();
    await binding.release();
  });

  it('drops a dispatch without a token (TypeError), and loses lines split over chunks', async () => {
    const binding = await peer.bind({ method: 'PATCH', resource: ['probe', '*'] });
    const raw = await rawClient(peer.tcpPort ?? -1);
    raw.send({ protocol: ['JSTP', '0.5'], method: 'PATCH', resource: ['probe', 'no-token'], timestamp: Date.now() });
    await settle(50);
    const line = JSON.stringify({ protocol: ['JSTP', '0.5'], method: 'PATCH', resource: ['probe', 'split'], timestamp: Date.now(), token: [] });
    raw.socket.write(line.slice(0, 20));
    await settle(50);
    const whole = JSON.stringify({ protocol: ['JSTP', '0.5'], method: 'PATCH', resource: ['probe', 'same-chunk'], timestamp: Date.now(), token: [] });
    raw.socket.write(`${line.slice(20)}\n${whole}\n`);
    await settle(50);
    raw.send({ protocol: ['JSTP', '0.5'], method: 'PATCH', resource: ['probe', 'alone'], timestamp: Date.now(), token: [] });

    await binding.waitFor(1);
    await settle();
    expect(binding.items.map((d) => d.resource?.[1])).toEqual(['alone']);
    const logs = await peer.logs();
    expect(logs).toContain("Cannot read properties of undefined (reading '0')");
    // Both halves fail JSON.parse on their own; the error drops the rest of the chunk.
    expect(logs.filter((entry) => entry.startsWith('SyntaxError:'))).toHaveLength(2);
    raw.socket.end();
    await binding.release();
  });

  it('cannot send a transactional dispatch to a remote subscriber ("[object Object]")', async () => {
    const raw = await rawClient(peer.tcpPort ?? -1);
    raw.send({ protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method: 'PUT', resource: ['lamp'] }, timestamp: Date.now(), token: [] });
    await eventually(() => peer.state(), (state) => state.bound.some((b) => b.method === 'PUT'));
    await peer.emit({ method: 'PUT', resource: ['lamp'], body: 'no transaction' });
    const request = await peer.request({ method: 'PUT', resource: ['lamp'], body: 'with transaction' });
    await settle();
    expect(raw.lines[0] && JSON.parse(raw.lines[0])).toMatchObject({ method: 'PUT', token: [], body: 'no transaction' });
    expect(raw.lines[1]).toBe('[object Object]');
    // ... and the caller later gets a 504 for it.
    const [timeout] = await request.waitFor(1, 3_000);
    expect(timeout?.resource?.[0]).toBe(504);
    raw.socket.end();
  });

  it('would crash on a reset connection (no error listener on its server sockets)', async () => {
    const raw = await rawClient(peer.tcpPort ?? -1);
    raw.socket.resetAndDestroy();
    const crashes = await eventually(() => peer.crashes(), (list) => list.length > 0);
    expect(crashes[0]).toContain('ECONNRESET');
  });
});

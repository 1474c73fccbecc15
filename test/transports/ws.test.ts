import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createDispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode, PasarelaError, Status } from '../../gateway/jstp/errors.js';
import { WsTransport, dialWs, type WsTransportOptions } from '../../gateway/transports/ws.js';
import { bind, dispatch, memoryLogger, sleep, waitFor } from './helpers.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

async function gateway(options: Partial<WsTransportOptions> = {}) {
  const { logger, records } = memoryLogger();
  const engine = new Engine({ logger });
  const transport = new WsTransport({ engine, logger, ...options });
  const { port } = await transport.listen();
  cleanups.push(() => engine.close(), () => transport.close());
  return { engine, transport, port, records };
}

/** A raw WebSocket peer recording the dispatches it receives. */
async function peer(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, options);
  const received: Record<string, unknown>[] = [];
  const state = { closed: false, code: 0 };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) received.push(JSON.parse(String(data)) as Record<string, unknown>);
  });
  ws.on('close', (code) => {
    state.closed = true;
    state.code = code;
  });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  cleanups.push(() => ws.terminate());
  return { ws, received, state };
}

describe('WebSocket transport', () => {
  it('accepts upgrades on / and on any other path', async () => {
    const { engine, port } = await gateway();
    const seen: unknown[] = [];
    engine.bind({ method: 'PATCH', resource: ['x'] }, (incoming) => void seen.push(incoming.body));
    const root = await peer(`ws://127.0.0.1:${port}/`);
    const deep = await peer(`ws://127.0.0.1:${port}/any/path?q=1`);
    root.ws.send(JSON.stringify(dispatch('PATCH', ['x'], { body: 'root' })));
    deep.ws.send(JSON.stringify(dispatch('PATCH', ['x'], { body: 'deep' })));
    await waitFor(() => seen.length === 2, 'both dispatches');
    expect(seen.sort()).toEqual(['deep', 'root']);
  });

  it("tolerates node-jstp's trailing newline", async () => {
    const { engine, transport, port } = await gateway();
    let seen = 0;
    engine.bind({ method: 'PATCH', resource: ['x'] }, () => void seen++);
    const p = await peer(`ws://127.0.0.1:${port}/`);
    p.ws.send(JSON.stringify(dispatch('PATCH', ['x'])) + '\n');
    p.ws.send(JSON.stringify(dispatch('PATCH', ['x'])) + '\r\n');
    await waitFor(() => seen === 2, 'both dispatches');
    expect(transport.stats().invalid).toBe(0);
  });

  it('delivers to a remote BIND, answers on the asking socket, and releases on disconnect', async () => {
    const { engine, port } = await gateway();
    engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));
    const subscriber = await peer(`ws://127.0.0.1:${port}/`);
    const asker = await peer(`ws://127.0.0.1:${port}/`);
    subscriber.ws.send(JSON.stringify(bind('PATCH', ['devices', '*'])));
    await waitFor(() => engine.stats().subscriptions === 2, 'the remote subscription');
    engine.emit('PATCH', ['devices', 'lamp'], { on: true });
    await waitFor(() => subscriber.received.length === 1, 'the delivery');
    expect(subscriber.received[0]).toMatchObject({ method: 'PATCH', resource: ['devices', 'lamp'], body: { on: true }, token: [] });

    asker.ws.send(JSON.stringify(dispatch('GET', ['gateway'], { protocol: ['JSTP', '0.6'], token: ['t1'] })));
    await waitFor(() => asker.received.length === 2, 'answer and 101');
    expect(asker.received[0]).toMatchObject({ resource: [200, 't1', expect.any(String)], body: { name: 'pasarela' } });
    expect(subscriber.received).toHaveLength(1);

    subscriber.ws.close();
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription released');
  });

  it('counts an invalid JSON message and keeps the connection', async () => {
    const { engine, transport, port, records } = await gateway();
    let seen = 0;
    engine.bind({ method: 'PATCH', resource: ['x'] }, () => void seen++);
    const p = await peer(`ws://127.0.0.1:${port}/`);
    p.ws.send('{nope');
    p.ws.send(JSON.stringify(dispatch('PATCH', ['x'])));
    await waitFor(() => seen === 1, 'the valid dispatch');
    expect(transport.stats().invalid).toBe(1);
    expect(records.some((r) => r.code === ErrorCode.InvalidJson)).toBe(true);
    expect(p.state.closed).toBe(false);
  });

  it('closes a connection whose message exceeds maxPayload', async () => {
    const { transport, port, records } = await gateway({ maxPayload: 1024 });
    const p = await peer(`ws://127.0.0.1:${port}/`);
    p.ws.send(JSON.stringify(dispatch('PATCH', ['x'], { body: 'y'.repeat(2048) })));
    await waitFor(() => p.state.closed, 'the close');
    expect(p.state.code).toBe(1009);
    expect(transport.stats().oversize).toBe(1);
    expect(records.some((r) => r.code === ErrorCode.FrameTooLarge)).toBe(true);
  });

  it('drops a peer that stops answering pings', async () => {
    const { engine, transport, port, records } = await gateway({ heartbeatMs: 50 });
    const live = await peer(`ws://127.0.0.1:${port}/`);
    const dead = await peer(`ws://127.0.0.1:${port}/`, { autoPong: false });
    dead.ws.send(JSON.stringify(bind('PATCH', ['x'])));
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription');
    await waitFor(() => dead.state.closed, 'the dead peer to be dropped', 3000);
    expect(engine.stats().subscriptions).toBe(0);
    expect(records.some((r) => r.code === ErrorCode.PeerTimeout)).toBe(true);
    await sleep(200);
    expect(live.state.closed).toBe(false);
    expect(transport.stats().connections).toBe(1);
  });

  it('serves 404 over HTTP by default, and a request handler when given one', async () => {
    const { transport, port } = await gateway();
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    transport.setRequestHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('dashboard');
    });
    const response = await fetch(`http://127.0.0.1:${port}/index.html`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('dashboard');
  });

  it('attaches to a server it is given and leaves it open on close', async () => {
    const server = http.createServer((_request, response) => response.end('mine'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
    const port = (server.address() as AddressInfo).port;
    const engine = new Engine();
    const transport = new WsTransport({ engine, server });
    expect((await transport.listen()).port).toBe(port);
    const p = await peer(`ws://127.0.0.1:${port}/jstp`);
    p.ws.send(JSON.stringify(bind('PATCH', ['x'])));
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription');
    await transport.close();
    await waitFor(() => p.state.closed, 'the socket closed');
    expect(engine.stats().subscriptions).toBe(0);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('mine');
  });

  it('dialWs connects an engine to a remote gateway both ways', async () => {
    const { engine, port } = await gateway();
    engine.bind({ method: 'GET', resource: ['time'] }, () => 42);
    const local = new Engine();
    cleanups.push(() => local.close());
    const connection = await dialWs(`ws://127.0.0.1:${port}/`, { engine: local });
    cleanups.push(() => connection.close());
    const values: unknown[] = [];
    local.bind({ method: 'PATCH', resource: ['sensor'] }, (incoming) => void values.push(incoming.body));
    connection.send(Engine.subscriptionDispatch('BIND', { method: 'PATCH', resource: ['sensor'] }));
    await waitFor(() => engine.stats().subscriptions === 2, 'the remote BIND');
    engine.emit('PATCH', ['sensor'], 7);
    await waitFor(() => values.length === 1, 'the PATCH');
    const answers: unknown[] = [];
    local.bind({ method: 'ANSWER', resource: ['...'] }, (incoming) => void answers.push(incoming.body));
    connection.send(createDispatch('GET', ['time'], { token: ['t-ws'] }));
    await waitFor(() => answers.length === 2, 'answer and 101');
    expect(answers[0]).toBe(42);
    connection.close();
    await connection.closed;
    await waitFor(() => engine.stats().subscriptions === 1, 'released');
  });

  it('dialWs rejects with 502 when the handshake fails', async () => {
    const server = http.createServer((_request, response) => response.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
    // A plain HTTP server: the upgrade is never answered with 101.
    server.on('upgrade', (_request, socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const port = (server.address() as AddressInfo).port;
    const error = await dialWs(`ws://127.0.0.1:${port}/`, { engine: new Engine() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PasarelaError);
    expect((error as PasarelaError).status).toBe(Status.UnreachableHost);
  });
});

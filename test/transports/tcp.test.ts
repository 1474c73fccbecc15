import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Engine, type Incoming } from '../../gateway/jstp/engine.js';
import { ErrorCode, Status } from '../../gateway/jstp/errors.js';
import { PasarelaError } from '../../gateway/jstp/errors.js';
import { createDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { TcpTransport, dialTcp, type TcpTransportOptions } from '../../gateway/transports/tcp.js';
import { bind, dispatch, memoryLogger, RawTcpPeer, sleep, waitFor } from './helpers.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

async function gateway(options: Partial<TcpTransportOptions> = {}) {
  const { logger, records } = memoryLogger();
  const engine = new Engine({ logger });
  const transport = new TcpTransport({ engine, logger, ...options });
  const { port } = await transport.listen();
  cleanups.push(() => engine.close(), () => transport.close());
  return { engine, transport, port, records };
}

async function peer(port: number): Promise<RawTcpPeer> {
  const p = await RawTcpPeer.connect(port);
  cleanups.push(() => p.socket.destroy());
  return p;
}

describe('TCP transport', () => {
  it('reports the bound port when asked for port 0', async () => {
    const { transport, port } = await gateway();
    expect(port).toBeGreaterThan(0);
    expect(transport.address()).toEqual({ label: 'tcp', host: '127.0.0.1', port });
  });

  it('reassembles a dispatch written one byte at a time', async () => {
    const { engine, port } = await gateway();
    const seen: Incoming[] = [];
    engine.bind({ method: 'PATCH', resource: ['devices', ':id'] }, (incoming) => void seen.push(incoming));
    const p = await peer(port);
    p.socket.setNoDelay(true);
    const bytes = Buffer.from(JSON.stringify(dispatch('PATCH', ['devices', 'kitchen'], { body: { v: 'ñ' } })) + '\n');
    for (const byte of bytes) {
      p.write(Buffer.of(byte));
      await sleep(1);
    }
    await waitFor(() => seen.length === 1, 'the dispatch');
    expect(seen[0]!.params).toEqual({ id: 'kitchen' });
    expect(seen[0]!.body).toEqual({ v: 'ñ' });
  });

  it('takes 100 dispatches written in one chunk', async () => {
    const { engine, transport, port } = await gateway();
    const seen: number[] = [];
    engine.bind({ method: 'PATCH', resource: ['n', ':i'] }, (incoming) => void seen.push(Number(incoming.params.i)));
    const p = await peer(port);
    p.write(Array.from({ length: 100 }, (_, i) => JSON.stringify(dispatch('PATCH', ['n', i])) + '\n').join(''));
    await waitFor(() => seen.length === 100, '100 dispatches');
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(transport.stats().received).toBe(100);
  });

  it('closes a connection whose line exceeds the limit, with a logged reason', async () => {
    const { transport, port, records } = await gateway({ maxLineBytes: 1024 });
    const p = await peer(port);
    p.write('{"protocol":' + ' '.repeat(4096));
    await waitFor(() => p.closed, 'the connection to close');
    expect(transport.stats().oversize).toBe(1);
    expect(records.some((r) => r.code === ErrorCode.FrameTooLarge && r.msg === 'connection closed')).toBe(true);
    await waitFor(() => transport.stats().connections === 0, 'the connection to be forgotten');
  });

  it('drops and counts an invalid JSON line, and the connection keeps working', async () => {
    const { engine, transport, port, records } = await gateway();
    let seen = 0;
    engine.bind({ method: 'PATCH', resource: ['ok'] }, () => void seen++);
    const p = await peer(port);
    p.write('this is not json\n{"unterminated":\n');
    p.send(dispatch('PATCH', ['ok']));
    await waitFor(() => seen === 1, 'the valid dispatch');
    expect(transport.stats().invalid).toBe(2);
    expect(p.closed).toBe(false);
    expect(records.filter((r) => r.code === ErrorCode.InvalidJson)).toHaveLength(2);
  });

  it('answers 400 to an invalid dispatch with a transaction id, and drops one without', async () => {
    const { engine, port } = await gateway();
    const p = await peer(port);
    // No timestamp: invalid in strict mode.
    p.send({ protocol: ['JSTP', '0.5'], method: 'GET', resource: ['x'], token: ['tx-1'] });
    await waitFor(() => p.received.length >= 1, 'the 400 answer');
    expect(p.received[0]).toMatchObject({ method: 'ANSWER', resource: [Status.BadDispatch, 'tx-1', expect.any(String)] });
    const before = p.received.length;
    p.send({ protocol: ['JSTP', '0.5'], method: 'GET', resource: ['x'], token: [] });
    await waitFor(() => engine.stats().invalid === 2, 'the second invalid dispatch');
    await sleep(50);
    expect(p.received.length).toBe(before);
    expect(p.closed).toBe(false);
  });

  it('delivers matching dispatches to a remote peer that BINDs, and releases its subscriptions when it leaves', async () => {
    const { engine, port } = await gateway();
    const p = await peer(port);
    p.send(bind('PATCH', ['devices', '*', 'properties', 'temperature']));
    p.send(bind('POST', ['devices', '...']));
    await waitFor(() => engine.stats().subscriptions === 2, 'two subscriptions');
    engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 21 });
    engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'humidity'], { value: 40 });
    engine.emit('POST', ['devices', 'coffee', 'events', 'brewed'], { cups: 2 });
    await waitFor(() => p.received.length === 2, 'two deliveries');
    expect(p.received.map((d) => d.resource)).toEqual([
      ['devices', 'kitchen', 'properties', 'temperature'],
      ['devices', 'coffee', 'events', 'brewed'],
    ]);
    // Engines that read token[0] of every dispatch (node-jstp) get an empty token.
    expect(p.received[0]!.token).toEqual([]);
    p.end();
    await waitFor(() => engine.stats().subscriptions === 0, 'subscriptions released');
    expect(engine.stats().channels).toBe(0);
  });

  it('sends answers back on the channel that asked, and only there', async () => {
    const { engine, port } = await gateway();
    engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));
    const asker = await peer(port);
    const bystander = await peer(port);
    const responder = await peer(port);
    responder.send(bind('GET', ['remote', ':x']));
    await waitFor(() => engine.stats().subscriptions === 2, 'the remote subscription');

    // A 0.6 peer: its answer set is closed with 101 No More Answers.
    asker.send(dispatch('GET', ['gateway'], { protocol: ['JSTP', '0.6'], token: ['t-local'] }));
    await waitFor(() => asker.received.length === 2, 'answer and 101');
    expect(asker.received[0]).toMatchObject({ method: 'ANSWER', resource: [200, 't-local', expect.any(String)], body: { name: 'pasarela' } });
    expect(asker.received[1]).toMatchObject({ method: 'ANSWER', resource: [101, 't-local', expect.any(String)] });

    // Through the gateway to another remote engine and back.
    asker.send(dispatch('GET', ['remote', 'abc'], { protocol: ['JSTP', '0.6'], token: ['t-remote'] }));
    await waitFor(() => responder.received.length === 1, 'the request at the responder');
    const request = responder.received[0]!;
    expect(request.token).toEqual(['t-remote', expect.any(String)]);
    const [transactionId, triggeringId] = request.token as [string, string];
    responder.send({ protocol: ['JSTP', '0.4'], method: 'ANSWER', resource: [200, transactionId, triggeringId], timestamp: Date.now(), token: [], body: 'pong' });
    await waitFor(() => asker.received.length === 4, 'the relayed answer and 101');
    expect(asker.received[2]).toMatchObject({ method: 'ANSWER', resource: [200, 't-remote', expect.any(String)], body: 'pong' });
    expect(asker.received[3]).toMatchObject({ resource: [101, 't-remote', expect.any(String)] });
    expect(bystander.received).toEqual([]);
    expect(responder.received).toHaveLength(1);
  });

  it('dialTcp connects an engine to a remote gateway both ways', async () => {
    const { engine, port } = await gateway();
    engine.bind({ method: 'GET', resource: ['time'] }, () => 42);
    const { logger } = memoryLogger();
    const local = new Engine({ logger });
    cleanups.push(() => local.close());
    const connection = await dialTcp('127.0.0.1', port, { engine: local, logger });
    cleanups.push(() => connection.close());
    expect(connection.label).toBe('tcp');

    // Receiving: the gateway's PATCHes arrive at the local engine through the BIND the connection sent.
    const values: unknown[] = [];
    local.bind({ method: 'PATCH', resource: ['sensor'] }, (incoming) => void values.push(incoming.body));
    connection.send(Engine.subscriptionDispatch('BIND', { method: 'PATCH', resource: ['sensor'] }));
    await waitFor(() => engine.stats().subscriptions === 2, 'the remote BIND');
    engine.emit('PATCH', ['sensor'], 7);
    await waitFor(() => values.length === 1, 'the PATCH at the local engine');
    expect(values).toEqual([7]);

    // Asking: an answer to a dispatch sent on the connection comes back on it.
    const answers: Dispatch[] = [];
    local.bind({ method: 'ANSWER', resource: ['...'] }, (incoming) => void answers.push(incoming.dispatch));
    connection.send(createDispatch('GET', ['time'], { token: ['t-dial'] }));
    await waitFor(() => answers.length === 2, 'answer and 101');
    expect(answers[0]).toMatchObject({ resource: [200, 't-dial', expect.any(String)], body: 42 });

    connection.close();
    const info = await connection.closed;
    expect(info.local).toBe(true);
    await waitFor(() => engine.stats().subscriptions === 1, 'the remote subscription released');
    expect(connection.isClosed).toBe(true);
    expect(() => connection.send(Engine.subscriptionDispatch('BIND', { method: '*', resource: ['...'] }))).not.toThrow();
    expect(connection.stats().dropped).toBe(1);
  });

  it('dialTcp rejects with 502 when nothing listens', async () => {
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const error = await dialTcp('127.0.0.1', port, { engine: new Engine() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PasarelaError);
    expect((error as PasarelaError).code).toBe(ErrorCode.Unreachable);
    expect((error as PasarelaError).status).toBe(Status.UnreachableHost);
  });

  it('detaches a connection from the engine exactly once', async () => {
    const { logger } = memoryLogger();
    const engine = new Engine({ logger });
    let detached = 0;
    const original = engine.detach.bind(engine);
    engine.detach = (channel) => {
      detached++;
      original(channel);
    };
    const transport = new TcpTransport({ engine, logger });
    const { port } = await transport.listen();
    cleanups.push(() => transport.close());
    const p = await peer(port);
    p.send(bind('*', ['...']));
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription');
    const [connection] = transport.connections();
    connection!.close('test');
    connection!.abort(ErrorCode.ChannelOverflow, 'again');
    await waitFor(() => p.closed, 'the peer to see the close');
    await waitFor(() => transport.stats().connections === 0, 'the socket to close');
    expect(detached).toBe(1);
  });

  it('close() ends every connection and resolves; a closed server refuses connections', async () => {
    const { logger } = memoryLogger();
    const engine = new Engine({ logger });
    const transport = new TcpTransport({ engine, logger });
    const { port } = await transport.listen();
    const peers = await Promise.all([peer(port), peer(port), peer(port)]);
    for (const p of peers) p.send(bind('PATCH', ['x']));
    await waitFor(() => engine.stats().subscriptions === 3, 'three subscriptions');
    await transport.close();
    await waitFor(() => peers.every((p) => p.closed), 'every peer closed');
    expect(engine.stats().subscriptions).toBe(0);
    expect(transport.stats().connections).toBe(0);
    await expect(RawTcpPeer.connect(port)).rejects.toThrow();
    await transport.close();
  });
});

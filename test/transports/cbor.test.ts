import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { CborSequenceDecoder } from '../../gateway/jstp/codec/cbor-sequence.js';
import { createDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import type { DispatchCodec } from '../../gateway/jstp/codec/codec.js';
import { cborCodec } from '../../gateway/jstp/codec/cbor-link.js';
import { TcpTransport, dialTcp } from '../../gateway/transports/tcp.js';
import { WsTransport, dialWs } from '../../gateway/transports/ws.js';
import { bind, dispatch, memoryLogger, RawTcpPeer, waitFor } from './helpers.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const codec: DispatchCodec = cborCodec;

const cleanups = cleanupsAfterEach();

async function tcpGateway(cbor: DispatchCodec | undefined) {
  const { logger, records } = memoryLogger();
  const engine = new Engine({ logger });
  const transport = new TcpTransport({ engine, logger, ...(cbor ? { cbor } : {}) });
  const { port } = await transport.listen();
  cleanups.push(() => engine.close(), () => transport.close());
  return { engine, transport, port, records };
}

/** A raw TCP peer that speaks CBOR sequences and decodes what comes back. */
async function cborPeer(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  cleanups.push(() => socket.destroy());
  const received: unknown[] = [];
  const firstBytes: number[] = [];
  const decoder = new CborSequenceDecoder();
  const state = { closed: false };
  socket.on('data', (chunk: Buffer) => {
    if (firstBytes.length === 0) firstBytes.push(chunk[0]!);
    for (const item of decoder.push(chunk)) if (item.ok) received.push(item.value);
  });
  socket.on('close', () => {
    state.closed = true;
  });
  socket.on('error', () => {});
  return { socket, received, firstBytes, state };
}

describe('compact CBOR on the transports', () => {
  it('TCP: a peer that starts with a CBOR map is read as a CBOR sequence and answered in CBOR', async () => {
    const { engine, port } = await tcpGateway(codec);
    engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));
    const seen: number[] = [];
    engine.bind({ method: 'PATCH', resource: ['n', ':i'] }, (incoming) => void seen.push(Number(incoming.params.i)));
    const p = await cborPeer(port);
    const bytes = Buffer.concat([
      ...Array.from({ length: 50 }, (_, i) => encodeDispatch(createDispatch('PATCH', ['n', i]))),
      encodeDispatch(createDispatch('GET', ['gateway'], { token: ['6f1c1e3a-0d4e-4b8a-9a57-0c9a3c1f2b7d'] })),
    ]);
    // Cut at awkward places: items span writes, writes hold many items.
    for (let at = 0; at < bytes.length; at += 37) {
      p.socket.write(bytes.subarray(at, at + 37));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => seen.length === 50 && p.received.length >= 1, 'the dispatches and the answer');
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p.firstBytes[0]! & 0xe0).toBe(0xa0);
    expect(p.received[0]).toMatchObject({
      method: 'ANSWER',
      resource: [200, '6f1c1e3a-0d4e-4b8a-9a57-0c9a3c1f2b7d', expect.any(String)],
      body: { name: 'pasarela' },
    });
  });

  it('TCP: JSON peers of the same server still get JSON', async () => {
    const { engine, port } = await tcpGateway(codec);
    const json = await RawTcpPeer.connect(port);
    cleanups.push(() => json.socket.destroy());
    const cbor = await cborPeer(port);
    json.send(bind('PATCH', ['x']));
    cbor.socket.write(encodeDispatch(Engine.subscriptionDispatch('BIND', { method: 'PATCH', resource: ['x'] })));
    await waitFor(() => engine.stats().subscriptions === 2, 'both subscriptions');
    engine.emit('PATCH', ['x'], { v: 1 });
    await waitFor(() => json.received.length === 1 && cbor.received.length === 1, 'both deliveries');
    expect(json.received[0]).toMatchObject({ method: 'PATCH', resource: ['x'], body: { v: 1 } });
    expect(cbor.received[0]).toMatchObject({ method: 'PATCH', resource: ['x'], body: { v: 1 } });
  });

  it('TCP: a broken CBOR sequence closes the connection with a decode error', async () => {
    const { transport, port, records } = await tcpGateway(codec);
    const p = await cborPeer(port);
    // A map of one pair whose key is a stray "break".
    p.socket.write(Buffer.from([0xa1, 0xff, 0x00]));
    await waitFor(() => p.state.closed, 'the close');
    expect(records.some((r) => r.code === ErrorCode.DecodeError && r.msg === 'connection closed')).toBe(true);
    await waitFor(() => transport.stats().connections === 0, 'the socket closed');
  });

  it('TCP: a CBOR item over the size limit closes the connection as too large', async () => {
    const { logger } = memoryLogger();
    const engine = new Engine({ logger });
    const transport = new TcpTransport({ engine, logger, cbor: codec, maxLineBytes: 256 });
    const { port } = await transport.listen();
    cleanups.push(() => engine.close(), () => transport.close());
    const p = await cborPeer(port);
    p.socket.write(encodeDispatch(createDispatch('PATCH', ['x'], { body: 'z'.repeat(1000) })));
    await waitFor(() => p.state.closed, 'the close');
    expect(transport.stats().oversize).toBe(1);
  });

  it('TCP: without a codec, a CBOR peer is closed with a logged reason', async () => {
    const { port, records } = await tcpGateway(undefined);
    const p = await cborPeer(port);
    p.socket.write(encodeDispatch(createDispatch('PATCH', ['x'])));
    await waitFor(() => p.state.closed, 'the close');
    expect(records.some((r) => r.code === ErrorCode.DecodeError)).toBe(true);
  });

  it('dialTcp with encoding cbor talks CBOR both ways', async () => {
    const { engine, port } = await tcpGateway(codec);
    engine.bind({ method: 'GET', resource: ['time'] }, () => 42);
    const local = new Engine();
    cleanups.push(() => local.close());
    const connection = await dialTcp('127.0.0.1', port, { engine: local, cbor: codec, encoding: 'cbor' });
    cleanups.push(() => connection.close());
    const answers: Dispatch[] = [];
    local.bind({ method: 'ANSWER', resource: ['...'] }, (incoming) => void answers.push(incoming.dispatch));
    connection.send(createDispatch('GET', ['time'], { token: ['0b7e5f0a-2c57-4e1f-8f0e-7d8f1d9e6a11'] }));
    await waitFor(() => answers.length === 2, 'answer and 101');
    expect(answers[0]).toMatchObject({ resource: [200, '0b7e5f0a-2c57-4e1f-8f0e-7d8f1d9e6a11', expect.any(String)], body: 42 });
    expect(connection.encoding).toBe('cbor');
  });

  it('WebSocket: a binary message is one CBOR dispatch, answered in binary; text peers get text', async () => {
    const { logger } = memoryLogger();
    const engine = new Engine({ logger });
    const transport = new WsTransport({ engine, logger, cbor: codec });
    const { port } = await transport.listen();
    cleanups.push(() => engine.close(), () => transport.close());
    engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));

    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    const binary: unknown[] = [];
    const text: unknown[] = [];
    ws.on('message', (data, isBinary) => (isBinary ? binary.push(decodeDispatch(data as Buffer)) : text.push(JSON.parse(String(data)))));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(encodeDispatch(createDispatch('GET', ['gateway'], { token: ['9d3f8c2e-5b1a-4c6d-8e7f-1a2b3c4d5e6f'] })));
    await waitFor(() => binary.length === 2, 'answer and 101 in CBOR');
    expect(binary[0]).toMatchObject({ method: 'ANSWER', body: { name: 'pasarela' } });
    expect(text).toEqual([]);

    const other = new WebSocket(`ws://127.0.0.1:${port}/`);
    other.on('error', () => {});
    cleanups.push(() => other.terminate());
    const replies: { isBinary: boolean; value: unknown }[] = [];
    other.on('message', (data, isBinary) => replies.push({ isBinary, value: JSON.parse(String(data)) }));
    await new Promise((resolve) => other.once('open', resolve));
    other.send(JSON.stringify(dispatch('GET', ['gateway'], { token: ['t-text'] })));
    // A 0.5 peer gets no 101 (it predates it).
    await waitFor(() => replies.length === 1, 'the answer in JSON');
    expect(replies[0]!.value).toMatchObject({ method: 'ANSWER', resource: [200, 't-text', expect.any(String)] });
    expect(replies.every((r) => !r.isBinary)).toBe(true);
  });

  it('dialWs with encoding cbor sends binary messages', async () => {
    const { logger } = memoryLogger();
    const engine = new Engine({ logger });
    const transport = new WsTransport({ engine, logger, cbor: codec });
    const { port } = await transport.listen();
    cleanups.push(() => engine.close(), () => transport.close());
    engine.bind({ method: 'GET', resource: ['time'] }, () => 42);
    const local = new Engine();
    cleanups.push(() => local.close());
    const connection = await dialWs(`ws://127.0.0.1:${port}/`, { engine: local, cbor: codec, encoding: 'cbor' });
    cleanups.push(() => connection.close());
    const answers: unknown[] = [];
    local.bind({ method: 'ANSWER', resource: ['...'] }, (incoming) => void answers.push(incoming.body));
    connection.send(createDispatch('GET', ['time'], { token: ['1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'] }));
    await waitFor(() => answers.length === 2, 'answer and 101');
    expect(answers[0]).toBe(42);
    const [server] = transport.connections();
    expect(server!.encoding).toBe('cbor');
  });
});

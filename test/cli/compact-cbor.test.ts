/**
 * Compact CBOR version 2 against the real `pasarela` command, over TCP: a peer that
 * offers aliases gets its deliveries aliased, an alias it never defined is answered
 * 400 and logged, and a client that writes a JavaScript Map with cbor-x's default
 * options (tag 259) is understood.
 */
import net from 'node:net';
import { encode as cborXEncode } from 'cbor-x';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import { openLink } from '../../gateway/jstp/codec/cbor-link.js';
import { CborSequenceDecoder } from '../../gateway/jstp/codec/cbor-sequence.js';
import type { LinkCodec } from '../../gateway/jstp/codec/codec.js';
import { createDispatch, createSubscription, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { parseJson, pasarelaRuns } from '../support/pasarela.js';
import { until } from '../support/until.js';

const { gateway } = pasarelaRuns();
const closers: (() => unknown)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const TX = '5d1b2c3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const RESOURCE = ['devices', 'kitchen', 'properties', 'temperature'];

/** A raw TCP peer writing a CBOR sequence through its own link codec, reading back with it. */
async function cborPeer(port: number, link: LinkCodec = openLink({ offerAliases: true })) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  closers.push(() => socket.destroy());
  const received: Record<string, unknown>[] = [];
  const sizes: number[] = [];
  const decoder = new CborSequenceDecoder({
    decode: (item) => {
      sizes.push(item.length);
      return link.decode(item);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) if (item.ok) received.push(item.value as Record<string, unknown>);
  });
  return { socket, link, received, sizes, send: (d: Dispatch) => socket.write(link.encode(d)) };
}

async function jsonClient(port: number): Promise<Client> {
  const client = connect(`tcp://127.0.0.1:${port}`, { reconnect: false });
  closers.push(() => client.close());
  await client.ready();
  return client;
}

describe('compact CBOR version 2 on the pasarela command', () => {
  it('aliases the deliveries to a peer that offered: the resource is sent once, then key 9 stands for it', async () => {
    const { tcp } = await gateway();
    const peer = await cborPeer(tcp);
    peer.send(createSubscription('BIND', { method: 'PATCH', resource: ['devices', '*', 'properties', 'temperature'] }, [TX]));
    await until(() => peer.received.some((d) => d.method === 'ANSWER'), 'the BIND answered');
    const publisher = await jsonClient(tcp);
    for (let i = 0; i < 5; i++) publisher.emit('PATCH', RESOURCE, { value: 20 + i });
    await until(() => peer.received.filter((d) => d.method === 'PATCH').length === 5, 'five readings');
    const readings = peer.received.filter((d) => d.method === 'PATCH');
    expect(readings.map((d) => d.resource)).toEqual(Array(5).fill(RESOURCE));
    expect(readings.map((d) => (d.body as { value: number }).value)).toEqual([20, 21, 22, 23, 24]);
    expect(peer.link.stats()).toMatchObject({ definitionsReceived: 1, usesReceived: 4, unknownAliases: 0 });
    // A use is the definition less the resource (40 bytes here).
    const patchSizes = peer.sizes.slice(-5);
    expect(patchSizes[0]! - patchSizes[1]!).toBeGreaterThanOrEqual(38);
  });

  it('answers 400 to a dispatch naming an alias never defined, logs it, and keeps the connection', async () => {
    const { run, tcp } = await gateway();
    const peer = await cborPeer(tcp);
    // The peer offers first, so the gateway's answer may alias toward it.
    peer.send(createDispatch('GET', ['gateway'], { token: ['11111111-2222-4333-8444-555555555555'] }));
    await until(() => peer.received.some((d) => d.method === 'ANSWER'), 'the first answer');
    // Key 0 [5, "pasarela"], 1 GET, 3 timestamp, 4 token, 9 alias 7: never defined on this connection.
    const token = Buffer.from(TX.replace(/-/g, ''), 'hex');
    peer.socket.write(Buffer.concat([Buffer.from('a500820568706173617265 6c61 0101 0300 0481 50'.replace(/\s+/g, ''), 'hex'), token, Buffer.from([0x09, 0x07])]));
    await until(() => peer.received.some((d) => d.method === 'ANSWER' && (d.resource as unknown[])[1] === TX), 'the 400');
    const refusal = peer.received.find((d) => d.method === 'ANSWER' && (d.resource as unknown[])[1] === TX)!;
    expect((refusal.resource as unknown[])[0]).toBe(400);
    expect(refusal.body).toMatchObject({ reason: 'unknown resource alias 7' });
    const logged = await run.line('stdout', (line) => parseJson(line)?.msg === 'invalid dispatch');
    expect(parseJson(logged)).toMatchObject({ level: 40, status: 400, reason: 'unknown resource alias 7' });
    // Still open: the next request is answered.
    peer.send(createDispatch('GET', ['gateway'], { token: ['66666666-7777-4888-8999-000000000000'] }));
    await until(() => peer.received.some((d) => (d.resource as unknown[] | undefined)?.[1] === '66666666-7777-4888-8999-000000000000'), 'the next answer');
  });

  it('understands a client that writes a JavaScript Map with cbor-x default options (tag 259)', async () => {
    const { tcp } = await gateway();
    const peer = await cborPeer(tcp, openLink());
    const get = new Map<number, unknown>([[0, ['JSTP', '0.5']], [1, 1], [2, ['gateway']], [3, Date.now()], [4, [TX]]]);
    const bytes = cborXEncode(get);
    expect(bytes[0]).toBe(0xd9); // tag 259 first: the gateway must still see CBOR, not JSON text
    peer.socket.write(bytes);
    await until(() => peer.received.some((d) => d.method === 'ANSWER'), 'the answer');
    const answer = peer.received.find((d) => d.method === 'ANSWER')!;
    expect(answer.resource).toEqual([200, TX, expect.any(String)]);
    expect(answer.body).toMatchObject({ name: 'pasarela' });
  });
});

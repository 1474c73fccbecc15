/**
 * 100 Acknowledge never closes a trigger, from any JSTP version: a peer that is not
 * Pasarela (taken to answer once per triggering id) answers 100 and then 200 over a
 * real socket, and the requester gets both. Before, the 100 ended the trigger and the
 * 200 went to whoever was bound to ANSWER. (Done on main; verified here.)
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineDecoder } from '../../gateway/jstp/codec/json.js';
import { ForwardingPool } from '../../gateway/forwarding.js';
import type { Hop } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { startNodeJstp, type NodeJstpPeer } from '../support/node-jstp.js';

let engine: Engine;
let pool: ForwardingPool;
let node: NodeJstpPeer;

beforeAll(async () => {
  engine = new Engine({ answerTimeoutMs: 3_000 });
  pool = new ForwardingPool({ engine, enabled: true, connectTimeoutMs: 2_000 }).install();
  node = await startNodeJstp({ tcpPort: 0, answerTimeoutMs: 2_000 });
});

afterAll(async () => {
  await node?.close();
  await pool?.close();
  engine?.close();
});

describe('a JSTP 0.4/0.5 peer answering 100, then 200', () => {
  it('a JSTP 0.5 engine on a real socket that the request is forwarded to: the requester gets 100, then the 200', async () => {
    // A raw 0.5 engine: it answers every request twice under one triggering id, as a
    // subscriber that acknowledges first would. (node-jstp itself cannot be this hop:
    // its relay of a forwarded request stops at the first answer, see docs/node-jstp.md.)
    const server = net.createServer((socket) => {
      const lines = new LineDecoder();
      socket.on('data', (chunk: Buffer) =>
        lines.push(chunk, (line) => {
          const request = JSON.parse(line) as { token: string[] };
          const answer = (status: number, body: unknown): string =>
            `${JSON.stringify({ protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: [status, request.token[0], 'trig-1'], timestamp: Date.now(), token: [], body })}\n`;
          socket.write(answer(100, { queued: true }));
          setTimeout(() => socket.write(answer(200, { done: true })), 50);
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const hop: Hop = ['127.0.0.1', (server.address() as net.AddressInfo).port, 'tcp'];
      const answers = await engine.post(['coffee', 'brew'], { cups: 1 }, { host: [hop] }).all();
      expect(answers.map((answer) => [answer.status, answer.body])).toEqual([
        [100, { queued: true }],
        [200, { done: true }],
      ]);
      expect(engine.stats().transactions).toBe(0);
    } finally {
      server.close();
    }
  });

  it('node-jstp subscribed over a real socket answers 100, then 200: the requester gets both', async () => {
    const tcp = new TcpTransport({ engine });
    const { port } = await tcp.listen();
    try {
      await node.bind({ method: 'GET', resource: ['robot', 'arm'] }, { host: [['127.0.0.1', port, 'tcp']], answers: [{ status: 100 }, { status: 200, body: { arm: 'up' } }] });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const answers = await engine.get(['robot', 'arm']).all();
      expect(answers.map((answer) => answer.status)).toEqual([100, 200]);
      expect(answers[1]!.body).toEqual({ arm: 'up' });
    } finally {
      await tcp.close();
    }
  });
});

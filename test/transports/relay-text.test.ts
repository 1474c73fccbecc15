/**
 * A dispatch relayed unchanged is written as the text it came in: that text must
 * still fit the framing of the wire it goes out on.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Engine } from '../../gateway/jstp/engine.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { bind, dispatch, RawTcpPeer, waitFor } from './helpers.js';

const cleanups = cleanupsAfterEach();

async function gateway() {
  const engine = new Engine();
  const tcp = new TcpTransport({ engine });
  const ws = new WsTransport({ engine, heartbeatMs: 0 });
  const [tcpAddress, wsAddress] = [await tcp.listen(), await ws.listen()];
  cleanups.push(() => engine.close(), () => tcp.close(), () => ws.close());
  return { engine, tcpPort: tcpAddress.port, wsPort: wsAddress.port };
}

async function wsPublisher(port: number): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
  cleanups.push(() => socket.terminate());
  return socket;
}

/** A raw TCP peer bound to every device PATCH, keeping the exact bytes it receives. */
async function tcpSubscriber(engine: Engine, port: number) {
  const subscriber = await RawTcpPeer.connect(port);
  const chunks: Buffer[] = [];
  subscriber.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  cleanups.push(() => subscriber.socket.destroy());
  subscriber.send(bind('PATCH', ['devices', '...']));
  await waitFor(() => engine.stats().subscriptions === 1, 'the BIND');
  return { subscriber, chunks };
}

describe('relaying the text a dispatch came in', () => {
  it('passes a one-line JSON dispatch from TCP to TCP byte for byte, with the gateway added to its trace at the end', async () => {
    const { engine, tcpPort } = await gateway();
    const { subscriber, chunks } = await tcpSubscriber(engine, tcpPort);
    const publisher = await RawTcpPeer.connect(tcpPort);
    cleanups.push(() => publisher.socket.destroy());
    const text = '{"protocol":["JSTP","0.5"], "method":"PATCH", "resource":["devices","d1"], "timestamp":7, "token":[], "body":{"value":1}}';
    publisher.write(`${text}\n`);
    await waitFor(() => subscriber.received.length === 1, 'the delivery');
    expect(Buffer.concat(chunks).toString()).toBe(`${text.slice(0, -1)},"via":["${engine.id}"]}\n`);
  });

  it('re-encodes a pretty-printed WebSocket dispatch into one line for a TCP subscriber', async () => {
    const { engine, tcpPort, wsPort } = await gateway();
    const { subscriber, chunks } = await tcpSubscriber(engine, tcpPort);
    const publisher = await wsPublisher(wsPort);
    publisher.send(JSON.stringify(dispatch('PATCH', ['devices', 'pretty'], { body: { value: 2 } }), null, 2));
    publisher.send(`${JSON.stringify(dispatch('PATCH', ['devices', 'newline'], { body: { value: 3 } }))}\n`);
    await waitFor(() => subscriber.received.length === 2, 'both deliveries');
    const lines = Buffer.concat(chunks).toString().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines.slice(0, 2).map((line) => JSON.parse(line).resource)).toEqual([['devices', 'pretty'], ['devices', 'newline']]);
  });
});

/** The Transport contract (gateway/transports/transport.ts), run against every transport. */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Engine } from '../../gateway/jstp/engine.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import type { Transport } from '../../gateway/transports/transport.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import { bind, dispatch, memoryLogger, RawTcpPeer, waitFor } from './helpers.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

interface Peer {
  send(value: unknown): void;
  sendRaw(text: string): void;
  readonly received: Record<string, unknown>[];
  isClosed(): boolean;
  close(): void;
}

interface Implementation {
  label: string;
  create(engine: Engine): Transport;
  connect(port: number): Promise<Peer>;
}

const implementations: Implementation[] = [
  {
    label: 'tcp',
    create: (engine) => new TcpTransport({ engine, logger: memoryLogger().logger }),
    connect: async (port) => {
      const peer = await RawTcpPeer.connect(port);
      return {
        send: (value) => peer.send(value),
        sendRaw: (text) => peer.write(`${text}\n`),
        received: peer.received,
        isClosed: () => peer.closed,
        close: () => peer.end(),
      };
    },
  },
  {
    label: 'ws',
    create: (engine) => new WsTransport({ engine, logger: memoryLogger().logger }),
    connect: async (port) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const received: Record<string, unknown>[] = [];
      let closed = false;
      ws.on('message', (data) => received.push(JSON.parse(String(data)) as Record<string, unknown>));
      ws.on('close', () => {
        closed = true;
      });
      ws.on('error', () => {});
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return {
        send: (value) => ws.send(JSON.stringify(value)),
        sendRaw: (text) => ws.send(text),
        received,
        isClosed: () => closed,
        close: () => ws.close(),
      };
    },
  },
];

const cleanups = cleanupsAfterEach();

describe.each(implementations)('Transport contract: $label', (implementation) => {
  async function setup() {
    const engine = new Engine();
    const transport = implementation.create(engine);
    cleanups.push(() => engine.close(), () => transport.close());
    const address = await transport.listen();
    return { engine, transport, address };
  }

  it('listens on a free port and reports it with its label', async () => {
    const { transport, address } = await setup();
    expect(address.port).toBeGreaterThan(0);
    expect(address.label).toBe(implementation.label);
    expect(transport.label).toBe(implementation.label);
    expect(transport.address()).toEqual(address);
  });

  it('makes each peer a channel of the engine until it disconnects', async () => {
    const { engine, transport, address } = await setup();
    const peer = await implementation.connect(address.port);
    peer.send(bind('PATCH', ['x', '*']));
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription');
    expect(transport.stats()).toMatchObject({ connections: 1, accepted: 1, received: 1 });
    engine.emit('PATCH', ['x', 'y'], 1);
    await waitFor(() => peer.received.length === 1, 'the delivery');
    expect(transport.stats().sent).toBe(1);
    peer.close();
    await waitFor(() => engine.stats().subscriptions === 0 && transport.stats().connections === 0, 'the release');
  });

  it('counts undecodable input without closing the peer', async () => {
    const { engine, transport, address } = await setup();
    let seen = 0;
    engine.bind({ method: 'PATCH', resource: ['x'] }, () => void seen++);
    const peer = await implementation.connect(address.port);
    peer.sendRaw('not json');
    peer.send(dispatch('PATCH', ['x']));
    await waitFor(() => seen === 1, 'the valid dispatch');
    expect(transport.stats().invalid).toBe(1);
    expect(peer.isClosed()).toBe(false);
  });

  it('close() closes every peer, releases their channels, resolves, and can be called again', async () => {
    const { engine, transport, address } = await setup();
    const peers = await Promise.all([implementation.connect(address.port), implementation.connect(address.port)]);
    for (const peer of peers) peer.send(bind('PATCH', ['x']));
    await waitFor(() => engine.stats().subscriptions === 2, 'two subscriptions');
    await transport.close();
    expect(transport.stats().connections).toBe(0);
    expect(engine.stats().subscriptions).toBe(0);
    await waitFor(() => peers.every((peer) => peer.isClosed()), 'the peers to see the close');
    await expect(transport.close()).resolves.toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import type { Connection } from '../../gateway/transports/connection.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import { bind, memoryLogger, RawTcpPeer, waitFor } from './helpers.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

const LIMIT = 2 * 1024 * 1024;
const BODY = { value: 'x'.repeat(1000) };

/**
 * Emits to a subscriber that never reads until the gateway gives up on it. Returns the
 * most bytes ever queued for it and how much the process grew meanwhile.
 */
async function floodUntilClosed(engine: Engine, connection: Connection): Promise<{ emitted: number; maxQueued: number; growth: number }> {
  global.gc?.();
  const baseline = process.memoryUsage();
  const start = baseline.heapUsed + baseline.external + baseline.arrayBuffers;
  let emitted = 0;
  let maxQueued = 0;
  let growth = 0;
  // 200k dispatches of ~1 KB = ~200 MB if nothing stopped it; it must stop far sooner.
  for (let batch = 0; batch < 200 && !connection.isClosed; batch++) {
    for (let i = 0; i < 1000 && !connection.isClosed; i++) {
      engine.emit('PATCH', ['flood'], BODY);
      emitted++;
      maxQueued = Math.max(maxQueued, connection.bufferedBytes);
    }
    const now = process.memoryUsage();
    growth = Math.max(growth, now.heapUsed + now.external + now.arrayBuffers - start);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { emitted, maxQueued, growth };
}

describe('backpressure', () => {
  it('closes a TCP peer that never reads, with the overflow reason, and memory stays bounded', async () => {
    const { logger, records } = memoryLogger();
    const engine = new Engine({ logger });
    const transport = new TcpTransport({ engine, logger, maxBufferedBytes: LIMIT });
    const { port } = await transport.listen();
    cleanups.push(() => engine.close(), () => transport.close());

    const p = await RawTcpPeer.connect(port);
    cleanups.push(() => p.socket.destroy());
    p.send(bind('PATCH', ['flood']));
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription');
    p.socket.pause();

    const [connection] = transport.connections();
    const { emitted, maxQueued, growth } = await floodUntilClosed(engine, connection!);

    expect(connection!.isClosed).toBe(true);
    expect(connection!.closeInfo?.code).toBe(ErrorCode.ChannelOverflow);
    expect(emitted).toBeLessThan(200_000);
    // Never more than the limit plus the dispatch that crossed it.
    expect(maxQueued).toBeLessThanOrEqual(LIMIT + 2048);
    expect(growth).toBeLessThan(64 * 1024 * 1024);
    expect(transport.stats().overflows).toBe(1);
    expect(engine.stats().subscriptions).toBe(0);
    expect(records.some((r) => r.code === ErrorCode.ChannelOverflow && r.msg === 'connection closed')).toBe(true);
    await waitFor(() => transport.stats().connections === 0, 'the socket to close');
  });

  it('closes a WebSocket peer that never reads, with the overflow reason', async () => {
    const { logger } = memoryLogger();
    const engine = new Engine({ logger });
    const transport = new WsTransport({ engine, logger, maxBufferedBytes: LIMIT });
    const { port } = await transport.listen();
    cleanups.push(() => engine.close(), () => transport.close());

    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify(bind('PATCH', ['flood'])));
    await waitFor(() => engine.stats().subscriptions === 1, 'the subscription');
    (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();

    const [connection] = transport.connections();
    const { maxQueued } = await floodUntilClosed(engine, connection!);
    expect(connection!.closeInfo?.code).toBe(ErrorCode.ChannelOverflow);
    expect(maxQueued).toBeLessThanOrEqual(LIMIT + 2048);
    expect(transport.stats().overflows).toBe(1);
    expect(engine.stats().subscriptions).toBe(0);
  });
});

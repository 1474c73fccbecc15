import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../gateway/jstp/engine.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { waitFor } from './helpers.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

const TOTAL = 1_000_000;
const BATCH = 10_000;

/** One batch of JSON lines, each with its sequence number, as one buffer. */
function batch(first: number, count: number, timestamp: number): Buffer {
  const lines = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const seq = first + i;
    lines[i] =
      `{"protocol":["JSTP","0.5"],"method":"PATCH","resource":["devices","d${seq % 16}","properties","temperature"],` +
      `"timestamp":${timestamp},"token":[],"body":{"value":21.5,"seq":${seq}}}\n`;
  }
  return Buffer.from(lines.join(''));
}

describe('throughput', () => {
  it('delivers 1,000,000 dispatches written over one TCP connection as fast as it can', { timeout: 120_000 }, async () => {
    const engine = new Engine();
    const transport = new TcpTransport({ engine });
    const { port } = await transport.listen();
    cleanups.push(() => engine.close(), () => transport.close());

    let count = 0;
    let sum = 0;
    engine.bind({ method: 'PATCH', resource: ['devices', '*', 'properties', 'temperature'] }, (incoming) => {
      count++;
      sum += (incoming.body as { seq: number }).seq;
    });

    const socket = net.connect({ host: '127.0.0.1', port });
    cleanups.push(() => socket.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));

    const started = performance.now();
    const timestamp = Date.now();
    for (let first = 0; first < TOTAL; first += BATCH) {
      // Wait only when the socket asks to, never per dispatch.
      if (!socket.write(batch(first, BATCH, timestamp))) await new Promise((resolve) => socket.once('drain', resolve));
    }
    await waitFor(() => count === TOTAL, `${TOTAL} dispatches (got ${count})`, 100_000);
    const seconds = (performance.now() - started) / 1000;

    expect(count).toBe(TOTAL);
    expect(sum).toBe((TOTAL * (TOTAL - 1)) / 2);
    expect(transport.stats()).toMatchObject({ received: TOTAL, invalid: 0 });
    expect(engine.stats().invalid).toBe(0);
    // Generous for a loaded 2-core CI machine; typically a few seconds.
    expect(seconds).toBeLessThan(60);
  });
});

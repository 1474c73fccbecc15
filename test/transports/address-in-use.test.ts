/**
 * A port another program holds: every listener reports PASARELA_ADDRESS_IN_USE (not
 * PASARELA_CONFIG), with the node error as its cause, so callers can tell "taken"
 * from "misconfigured".
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../drivers/mqtt/embedded-broker.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

async function takenPort(): Promise<number> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as net.AddressInfo).port;
}

const inUse = { code: ErrorCode.AddressInUse, status: undefined, cause: { code: 'EADDRINUSE' } };

describe('a taken port', () => {
  it('TCP and WebSocket transports reject listen() with PASARELA_ADDRESS_IN_USE', async () => {
    const port = await takenPort();
    const engine = new Engine();
    cleanups.push(() => engine.close());
    const tcp = new TcpTransport({ engine, host: '127.0.0.1', port });
    const ws = new WsTransport({ engine, host: '127.0.0.1', port, heartbeatMs: 0 });
    cleanups.push(() => tcp.close(), () => ws.close());
    await expect(tcp.listen()).rejects.toMatchObject({ ...inUse, message: expect.stringContaining(`127.0.0.1:${port} is in use`) });
    await expect(ws.listen()).rejects.toMatchObject(inUse);
  });

  it('the embedded MQTT broker rejects with PASARELA_ADDRESS_IN_USE and names mqtt.url', async () => {
    const port = await takenPort();
    await expect(startEmbeddedBroker({ host: '127.0.0.1', port })).rejects.toMatchObject({ ...inUse, message: expect.stringContaining('mqtt.url') });
  });
});

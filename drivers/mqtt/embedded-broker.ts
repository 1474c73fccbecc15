/**
 * The embedded MQTT broker (aedes) the gateway runs when no broker URL is configured.
 * Loopback by default; port 0 picks a free port. `close` ends every client connection.
 */
import { createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import './packet-numbers.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import { errors } from '../../gateway/jstp/errors.js';
import { silentLogger } from '../../gateway/jstp/logger.js';

export interface EmbeddedBrokerOptions {
  host?: string;
  /** Default 1883; 0 picks a free port. */
  port?: number;
  logger?: Logger;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Clients currently connected. */
  readonly clients: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger();
  const broker = await Aedes.createBroker();
  broker.on('clientError', (client, error) => logger.debug({ client: client.id, err: error }, 'mqtt client error'));
  broker.on('connectionError', (_client, error) => logger.debug({ err: error }, 'mqtt connection error'));
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 1883, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw errors.addressInUse(`embedded MQTT broker: ${host}:${options.port ?? 1883} is in use (configure mqtt.url to use the broker that runs there)`, { cause: error });
    }
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, 'embedded MQTT broker listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    get clients() {
      return broker.connectedClients;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await closed;
      })();
      return closing;
    },
  };
}

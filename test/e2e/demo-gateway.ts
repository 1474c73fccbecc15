/**
 * The demo gateway for the dashboard's e2e test: the composition `npm start` runs
 * (startGateway with the MQTT, BLE and serial starters in demo mode), sped up where
 * the starters allow it, on loopback and free ports. It can be started again on the
 * same HTTP port, as a gateway restart looks to a browser.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../gateway/config.js';
import { bleStarters } from '../../gateway/devices/ble-starter.js';
import { mqttStarters } from '../../gateway/devices/mqtt-starter.js';
import { serialStarters } from '../../gateway/devices/serial-starter.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { createStaticHandler } from '../../gateway/http-static.js';

/** Starts the demo; `http` 0 picks a free port. */
export async function startDemoGateway(http = 0): Promise<Gateway> {
  const config = parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http }, log: { level: 'silent' } }, 'e2e');
  const demo = true;
  return startGateway(config, {
    drivers: [
      // A free port for the embedded broker; sensors report twice a second.
      ...mqttStarters(config, { demo, brokerPort: 0, demoIntervalMs: 500 }),
      // The coffee maker's clock runs 4 times faster: a cup in a few seconds.
      ...bleStarters(config, { demo, speed: 4 }),
      ...serialStarters(config, { demo }),
    ],
  });
}

export interface PageServer {
  /** The dashboard's address for a gateway on `httpPort`. */
  url(httpPort: number): string;
  close(): Promise<void>;
}

/**
 * Where the browser loads the page: from the gateway itself when it serves the
 * dashboard at `/`; otherwise (gateway.ts not yet passing the static handler to its
 * HTTP server) from a server beside it, the page pointed at the gateway with
 * `?gateway=`. Either way the page talks JSTP to the demo gateway over WebSocket.
 */
export async function pageServer(gateway: Gateway): Promise<PageServer> {
  const response = await fetch(`http://127.0.0.1:${gateway.ports.http}/`);
  await response.arrayBuffer();
  if (response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/html')) {
    return { url: (port) => `http://127.0.0.1:${port}/`, close: async () => undefined };
  }
  const server = http.createServer(createStaticHandler());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (gatewayPort) => `http://127.0.0.1:${port}/?gateway=${encodeURIComponent(`ws://127.0.0.1:${gatewayPort}/`)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The demo gateway for the dashboard's e2e test: the composition `npm start` runs
 * (startGateway with the demo's plugins), sped up where they allow it, on loopback
 * and free ports. The gateway serves the page at `/` on its HTTP port, where the
 * WebSocket is too. It can be started again on the same HTTP port, as a gateway
 * restart looks to a browser.
 */
import { demoPlugins } from '../../demo/plugins.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';

/** Starts the demo; `http` 0 picks a free port. */
export async function startDemoGateway(http = 0): Promise<Gateway> {
  const config = parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http }, log: { level: 'silent' } }, 'e2e');
  // A free port for the embedded broker; sensors report twice a second; the coffee
  // maker's clock runs 4 times faster (a cup in a few seconds).
  return startGateway(config, { plugins: demoPlugins({ brokerPort: 0, sensorIntervalMs: 500, coffeeSpeed: 4 }) });
}

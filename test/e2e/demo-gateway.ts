/**
 * The demo gateway for the dashboard's e2e test: the composition `npm start` runs
 * (startGateway with the MQTT, BLE and serial starters in demo mode), sped up where
 * the starters allow it, on loopback and free ports. The gateway serves the page at
 * `/` on its HTTP port, where the WebSocket is too. It can be started again on the
 * same HTTP port, as a gateway restart looks to a browser.
 */
import { parseConfig } from '../../gateway/config.js';
import { bleStarters } from '../../gateway/devices/ble-starter.js';
import { mqttStarters } from '../../gateway/devices/mqtt-starter.js';
import { serialStarters } from '../../gateway/devices/serial-starter.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';

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

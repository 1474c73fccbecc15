/**
 * Home Assistant's MQTT discovery as a gateway plugin (gateway/homeassistant/): on
 * the broker of `mqtt.url`, with the gateway's status as the connection's last will,
 * so Home Assistant marks every entity unavailable when the gateway goes away.
 */
import type { Config } from '../config.js';
import { packageVersion } from '../gateway.js';
import { HomeAssistantBridge } from '../homeassistant/bridge.js';
import { homeAssistantSchema } from '../homeassistant/config.js';
import { statusTopic } from '../homeassistant/entities.js';
import { errors } from '../jstp/errors.js';
import type { GatewayPlugin } from '../plugin.js';

export function homeAssistantPlugin(): GatewayPlugin {
  return {
    name: 'homeassistant',
    async start(context) {
      const settings = homeAssistantSchema.parse(context.config.homeassistant ?? {});
      const url = context.config.mqtt.url;
      if (url === undefined) throw errors.config('homeassistant: needs mqtt.url, the broker Home Assistant uses');
      // mqtt.js is loaded only by a gateway that asked for discovery.
      const { MqttConnection } = await import('../../drivers/mqtt/index.js');
      const connection = new MqttConnection({
        url,
        logger: context.logger,
        // The same on every start: the broker drops what is left of the previous run's session.
        clientId: `pasarela-homeassistant-${settings.node}`,
        client: { will: { topic: statusTopic(settings.node), payload: Buffer.from('offline'), qos: 1, retain: true } },
      });
      const bridge = new HomeAssistantBridge({ engine: context.engine, registry: context.registry, link: connection, settings, version: packageVersion(), logger: context.logger });
      connection.on('up', () => bridge.connected());
      connection.on('down', () => bridge.disconnected());
      connection.on('message', (topic, payload) => bridge.message(topic, payload));
      bridge.start();
      connection.start();
      return async () => {
        await bridge.stop();
        await connection.stop();
      };
    },
  };
}

/** The plugin when the config asks for discovery; otherwise none. */
export function homeAssistantPlugins(config: Config): GatewayPlugin[] {
  return config.homeassistant?.discovery ? [homeAssistantPlugin()] : [];
}

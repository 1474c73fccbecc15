/**
 * The MQTT driver as a gateway plugin. It connects to `mqtt.url` from the config, or
 * starts the embedded aedes broker when none is configured (loaded only then, so a
 * gateway with a broker of its own never loads aedes; the driver, and mqtt.js, load
 * when the plugin starts). Whatever else uses the broker
 * (the demo's simulated sensors) comes in through `alongside`.
 */
import type { DeviceConfig } from '../../drivers/driver.js';
import type { MqttDriverOptions } from '../../drivers/mqtt/index.js';
import type { EmbeddedBroker } from '../../drivers/mqtt/embedded-broker.js';
import { ErrorCode, PasarelaError } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import type { GatewayPlugin, PluginContext } from '../plugin.js';
import { configNames, preparedDriverPlugin } from './driver-plugin.js';

/** Something that runs on the plugin's broker, started before the driver and stopped after it. */
export interface MqttCompanion {
  /** Config entries it adds (entries whose id is configured are skipped). */
  readonly devices?: readonly DeviceConfig[];
  stop(): void | Promise<void>;
}

export interface MqttPluginOptions {
  /** Embedded broker address when no `mqtt.url` is configured (default 127.0.0.1:1883; 0 = any free port). */
  brokerHost?: string;
  brokerPort?: number;
  /** When the embedded broker's port is taken, take a free one instead of failing (for devices of our own). */
  anyFreeBrokerPort?: boolean;
  /** Passed to the driver (backoff, Homie base, extra profiles). */
  driver?: Omit<MqttDriverOptions, 'url' | 'name'>;
  /** Started once the broker URL is known, before the driver. */
  alongside?: (url: string, context: PluginContext) => Promise<MqttCompanion>;
}

function configuredUrl(config: object): string | undefined {
  const section = (config as { mqtt?: { url?: unknown } }).mqtt;
  return typeof section?.url === 'string' ? section.url : undefined;
}

async function startBroker(options: MqttPluginOptions, logger: Logger): Promise<EmbeddedBroker> {
  const { startEmbeddedBroker } = await import('../../drivers/mqtt/embedded-broker.js');
  const brokerOptions = { host: options.brokerHost ?? '127.0.0.1', port: options.brokerPort ?? 1883, logger: logger.child({ component: 'mqtt-broker' }) };
  try {
    return await startEmbeddedBroker(brokerOptions);
  } catch (error) {
    if (!options.anyFreeBrokerPort || !(error instanceof PasarelaError) || error.code !== ErrorCode.AddressInUse) throw error;
    logger.warn({ port: brokerOptions.port }, 'MQTT port in use; the embedded broker takes a free port');
    return startEmbeddedBroker({ ...brokerOptions, port: 0 });
  }
}

export function mqttPlugin(options: MqttPluginOptions = {}): GatewayPlugin {
  return preparedDriverPlugin('mqtt', async (context) => {
    let broker: EmbeddedBroker | undefined;
    let companion: MqttCompanion | undefined;
    const cleanup = async (): Promise<void> => {
      await companion?.stop();
      await broker?.close();
    };
    try {
      let url = configuredUrl(context.config);
      if (url === undefined) {
        broker = await startBroker(options, context.logger);
        url = broker.url;
      }
      companion = await options.alongside?.(url, context);
      const { createMqttDriver } = await import('../../drivers/mqtt/index.js');
      const driver = createMqttDriver({ ...options.driver, url });
      return { driver, devices: companion?.devices ?? [], cleanup };
    } catch (error) {
      await cleanup();
      throw error;
    }
  });
}

/**
 * The MQTT plugin when a broker URL is configured or a config entry names the `mqtt`
 * driver; otherwise none (no broker is started for a gateway without MQTT devices).
 */
export function mqttPlugins(config: { readonly devices: readonly { driver: string }[] } & object, options: MqttPluginOptions = {}): GatewayPlugin[] {
  return configuredUrl(config) !== undefined || configNames('mqtt', config) ? [mqttPlugin(options)] : [];
}

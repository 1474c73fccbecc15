/**
 * The MQTT driver as a gateway driver starter: connects to `mqtt.url` from the config,
 * or starts the embedded aedes broker when none is configured; with `demo`, also
 * starts the simulated sensors and adds their devices. Everything it starts, the
 * returned `stop` stops (driver, simulators, broker, in that order).
 */
import { createMqttDriver, type MqttDriverOptions } from '../../drivers/mqtt/driver.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../drivers/mqtt/embedded-broker.js';
import { ErrorCode, PasarelaError } from '../jstp/errors.js';
import { startSensorDemo, type SensorDemo } from '../../firmware-sim/sensors/demo.js';
import { deviceStarters, type DriverStarterLike, type StarterContextLike } from './starters.js';

export interface MqttStarterOptions {
  /** Start the simulated sensors too (`pasarela --demo`). */
  demo?: boolean;
  /** Embedded broker address when no `mqtt.url` is configured (default 127.0.0.1:1883; 0 = any free port). */
  brokerHost?: string;
  brokerPort?: number;
  /** Telemetry period of the demo's simulators (default 2000 ms). */
  demoIntervalMs?: number;
  /** Passed to the driver (backoff, Homie base, extra profiles). */
  driver?: Omit<MqttDriverOptions, 'url' | 'name'>;
  /** Deadline of reads, writes and actions. */
  deadlineMs?: number;
}

function configuredUrl(config: object): string | undefined {
  const section = (config as { mqtt?: { url?: unknown } }).mqtt;
  return typeof section?.url === 'string' ? section.url : undefined;
}

export function mqttStarter(options: MqttStarterOptions = {}): DriverStarterLike {
  return {
    name: 'mqtt',
    async start(context: StarterContextLike) {
      const logger = context.logger;
      let broker: EmbeddedBroker | undefined;
      let demo: SensorDemo | undefined;
      const stopAll = async () => {
        await demo?.stop();
        await broker?.close();
      };
      try {
        let url = configuredUrl(context.config);
        if (!url) {
          const brokerOptions = { host: options.brokerHost ?? '127.0.0.1', port: options.brokerPort ?? 1883, logger: logger.child({ component: 'mqtt-broker' }) };
          try {
            broker = await startEmbeddedBroker(brokerOptions);
          } catch (error) {
            // The demo's devices are its own, so any port will do when 1883 is taken.
            if (!options.demo || !(error instanceof PasarelaError) || error.code !== ErrorCode.AddressInUse) throw error;
            logger.warn({ port: brokerOptions.port }, 'MQTT port in use; the demo broker takes a free port');
            broker = await startEmbeddedBroker({ ...brokerOptions, port: 0 });
          }
          url = broker.url;
        }
        let devices = context.devices;
        if (options.demo) {
          demo = await startSensorDemo({
            url,
            ...(options.demoIntervalMs === undefined ? {} : { intervalMs: options.demoIntervalMs }),
            logger: logger.child({ component: 'sensor-sim' }),
          });
          const configured = new Set(devices.map((device) => device.id));
          devices = [...devices, ...demo.configEntries.filter((entry) => !configured.has(entry.id))];
        }
        const [starter] = deviceStarters([createMqttDriver({ ...options.driver, url })], {
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
        });
        const running = await starter!.start({ ...context, devices });
        return {
          name: 'mqtt',
          async stop() {
            try {
              await running.stop();
            } finally {
              await stopAll();
            }
          },
        };
      } catch (error) {
        await stopAll();
        throw error;
      }
    },
  };
}

/**
 * What the CLI starts for MQTT: the starter when the demo runs, a broker URL is
 * configured, or a config entry names the `mqtt` driver; otherwise nothing (no broker
 * is started for a gateway that has no MQTT devices).
 */
export function mqttStarters(config: { readonly devices: readonly { driver: string }[] } & object, options: MqttStarterOptions = {}): DriverStarterLike[] {
  const wanted = options.demo === true || configuredUrl(config) !== undefined || config.devices.some((device) => device.driver === 'mqtt');
  return wanted ? [mqttStarter(options)] : [];
}

/**
 * The serial driver as a gateway plugin: the configured ports through the OS binding.
 * The driver (and serialport) load only when the plugin starts.
 */
import type { SerialDriverOptions } from '../../drivers/serial/index.js';
import type { GatewayPlugin } from '../plugin.js';
import { configNames, preparedDriverPlugin } from './driver-plugin.js';

export function serialPlugin(options: SerialDriverOptions = {}): GatewayPlugin {
  return preparedDriverPlugin('serial', async () => ({ driver: (await import('../../drivers/serial/index.js')).createSerialDriver(options) }));
}

/** The serial plugin when a config entry names the `serial` driver; otherwise none. */
export function serialPlugins(config: { readonly devices: readonly { driver: string }[] }, options: SerialDriverOptions = {}): GatewayPlugin[] {
  return configNames('serial', config) ? [serialPlugin(options)] : [];
}

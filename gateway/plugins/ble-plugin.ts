/**
 * The BLE driver as a gateway plugin, on noble's own HCI bindings (loaded when the
 * driver starts); without an adapter the driver says so and the rest of the gateway
 * keeps running. The driver (and noble) load only when the plugin starts.
 */
import type { BleDriverOptions } from '../../drivers/ble/index.js';
import type { GatewayPlugin } from '../plugin.js';
import { configNames, preparedDriverPlugin } from './driver-plugin.js';

export function blePlugin(options: BleDriverOptions = {}): GatewayPlugin {
  return preparedDriverPlugin('ble', async () => ({ driver: (await import('../../drivers/ble/index.js')).createBleDriver(options) }));
}

/** The BLE plugin when a config entry names the `ble` driver; otherwise none. */
export function blePlugins(config: { readonly devices: readonly { driver: string }[] }, options: BleDriverOptions = {}): GatewayPlugin[] {
  return configNames('ble', config) ? [blePlugin(options)] : [];
}

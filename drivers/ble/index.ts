/** The BLE driver, its GATT profiles and the pieces tests and other tools reuse. */
export { createBleDriver, type BleDriverOptions } from './ble-driver.js';
export { compileGattProfile, nobleUuid, type GattProfile } from './gatt-profile.js';
export { builtinProfiles } from './profiles/index.js';
export { GattQueue, type GattOperation, type GattQueueOptions } from './gatt-queue.js';
export { NO_ADAPTER, NO_BINDING } from './noble-loader.js';
export type { NobleBindings } from './noble-types.js';

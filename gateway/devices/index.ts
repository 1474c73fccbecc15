/** The device registry: drivers' devices as JSTP resources. */
export { DeviceRegistry, type DeviceDetails, type DeviceSummary, type PropertyValue, type RegistryOptions } from './registry.js';
export { bindDeviceResources } from './resources.js';
export { deviceStarters, type DeviceStartersOptions, type DriverStarterLike } from './starters.js';
export { checkValue } from './schema-check.js';
export { derivedId, slug } from './ids.js';

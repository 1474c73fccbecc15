/** The device registry: drivers' devices as JSTP resources. */
export { DeviceRegistry, type DeviceChange, type DeviceDetails, type DeviceSummary, type PropertyValue, type RegistryOptions } from './registry.js';
export { bindDeviceResources } from './resources.js';
export { checkValue } from './schema-check.js';
export { derivedId, slug } from './ids.js';

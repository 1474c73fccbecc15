export { createSerialDriver, type SerialDriverOptions } from './serial-driver.js';
export { compileLineProfile, type LineProfile } from './line-profile.js';
export { builtinLineProfiles } from './profiles/index.js';
export { LINK_PROPERTY } from './serial-device.js';
export type { LinkProtocol } from './link.js';

/** The MQTT driver, its conventions and profiles. */
export { createMqttDriver, MqttDriver, type MqttDriverOptions, type MqttDriverStats } from './driver.js';
export { plainJson } from './plain-json.js';
export { tasmota } from './tasmota.js';
export { HomieDiscovery } from './homie.js';
export { loadMqttProfile, type MqttProfile } from './profile-schema.js';
export { builtinProfiles } from './profiles/index.js';
export { MqttConnection, type ConnectionOptions } from './connection.js';

/** The MQTT profiles that ship with Pasarela, by name; each is validated when loaded. */
import jsonSensor from './json-sensor.js';
import roomSensor from './room-sensor.js';
import smartPlug from './smart-plug.js';

export const builtinProfiles: Readonly<Record<string, unknown>> = {
  'json-sensor': jsonSensor,
  'room-sensor': roomSensor,
  'smart-plug': smartPlug,
};

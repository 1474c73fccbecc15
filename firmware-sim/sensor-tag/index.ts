/** The simulated BLE sensor tag that speaks JSTP over a GATT characteristic. */
export { createSimulatedSensorTag, DEFAULT_TAG_ADDRESS, SimulatedSensorTag, type SimulatedSensorTagOptions } from './sensor-tag.js';
export { MAX_BLINKS, TAG_DESCRIPTION } from './description.js';

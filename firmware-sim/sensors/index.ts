/** MQTT sensor simulators: each an instance with its own connection, timer and seeded randomness. */
export { HomieLamp, type HomieLampOptions } from './homie-device.js';
export { MqttSimulator, type SimulatorOptions } from './mqtt-simulator.js';
export { RoomSensor, type RoomSensorOptions } from './room-sensor.js';
export { SmartPlug, type SmartPlugOptions } from './smart-plug.js';

/**
 * The demo's simulated MQTT devices: a room sensor (plain JSON), a smart plug
 * (Tasmota) and a Homie lamp, all on one broker. `configEntries` are the config
 * entries that make the first two known to the MQTT driver (the lamp is discovered).
 */
import type { Logger } from '../gateway/jstp/logger.js';
import { HomieLamp } from '../firmware-sim/sensors/homie-device.js';
import { RoomSensor } from '../firmware-sim/sensors/room-sensor.js';
import { SmartPlug } from '../firmware-sim/sensors/smart-plug.js';

export interface SensorDemoOptions {
  url: string;
  /** Telemetry period of every simulator (default 2000 ms). */
  intervalMs?: number;
  /** Simulated time per real time (default 60: a minute of drift per second). */
  speed?: number;
  logger?: Logger;
}

export interface SensorDemo {
  readonly sensor: RoomSensor;
  readonly plug: SmartPlug;
  readonly lamp: HomieLamp;
  /** Config entries for the MQTT driver: `{ id, driver: 'mqtt', profile, topic }`. */
  readonly configEntries: readonly { id: string; driver: string; profile: string; topic: string }[];
  stop(): Promise<void>;
}

export async function startSensorDemo(options: SensorDemoOptions): Promise<SensorDemo> {
  const common = { url: options.url, intervalMs: options.intervalMs ?? 2_000, speed: options.speed ?? 60, ...(options.logger ? { logger: options.logger } : {}) };
  const sensor = new RoomSensor({ ...common, topic: 'home/living-room', seed: 11 });
  const plug = new SmartPlug({ ...common, topic: 'plug-1', seed: 12, loadWatts: 85 });
  const lamp = new HomieLamp({ ...common, topic: 'desk-lamp', seed: 13 });
  const all = [sensor, plug, lamp];
  try {
    await Promise.all(all.map((simulator) => simulator.start()));
  } catch (error) {
    await Promise.all(all.map((simulator) => simulator.stop()));
    throw error;
  }
  return {
    sensor,
    plug,
    lamp,
    configEntries: [
      { id: 'living-room', driver: 'mqtt', profile: 'room-sensor', topic: 'home/living-room' },
      { id: 'plug', driver: 'mqtt', profile: 'smart-plug', topic: 'plug-1' },
    ],
    stop: async () => {
      await Promise.all(all.map((simulator) => simulator.stop()));
    },
  };
}

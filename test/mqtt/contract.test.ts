/** The driver contract, for each simulator on each broker. */
import { afterAll, beforeAll, describe } from 'vitest';
import { createMqttDriver } from '../../drivers/mqtt/driver.js';
import { HomieLamp } from '../../firmware-sim/sensors/homie-device.js';
import { RoomSensor } from '../../firmware-sim/sensors/room-sensor.js';
import { SmartPlug } from '../../firmware-sim/sensors/smart-plug.js';
import { describeDriverContract } from '../../testing/index.js';
import { BROKERS, type TestBroker } from './brokers.js';

// Fast reconnects, so tests that drop links do not wait on the default backoff.
const connection = { reconnect: { initialMs: 20, maxMs: 200 } };
let unique = 0;

for (const [brokerName, startBroker] of BROKERS) {
  describe(`MQTT on ${brokerName}`, () => {
    let broker: TestBroker;
    beforeAll(async () => {
      broker = await startBroker();
    });
    afterAll(async () => {
      await broker?.close();
    });

    describeDriverContract(`mqtt plain-json room sensor (${brokerName})`, async () => {
      const topic = `test/room-${++unique}`;
      const sensor = new RoomSensor({ url: broker.url, topic, intervalMs: 50, seed: unique });
      await sensor.start();
      return {
        driver: createMqttDriver({ connection, homie: false }),
        devices: [{ id: 'kitchen', driver: 'mqtt', profile: 'room-sensor', topic }],
        options: { url: broker.url },
        subject: {
          id: 'kitchen',
          reported: 'temperature',
          writable: { name: 'interval', value: 200, invalid: 5 },
          readOnly: 'humidity',
          action: { name: 'calibrate', input: { offset: 0.5 }, invalidInput: { offset: 10 } },
        },
        setDeviceOnline: (online) => sensor.setOnline(online),
        setDeviceUnresponsive: async (unresponsive) => {
          sensor.unresponsive = unresponsive;
        },
        close: () => sensor.stop(),
      };
    });

    describeDriverContract(`mqtt tasmota smart plug (${brokerName})`, async () => {
      const topic = `plug-${++unique}`;
      const plug = new SmartPlug({ url: broker.url, topic, intervalMs: 50, seed: unique });
      await plug.start();
      return {
        driver: createMqttDriver({ connection, homie: false }),
        devices: [{ id: 'plug', driver: 'mqtt', profile: 'smart-plug', topic }],
        options: { url: broker.url },
        subject: {
          id: 'plug',
          reported: 'watts',
          writable: { name: 'power', value: false, invalid: 'maybe' },
          readOnly: 'watts',
          action: { name: 'toggle' },
        },
        setDeviceOnline: (online) => plug.setOnline(online),
        setDeviceUnresponsive: async (unresponsive) => {
          plug.unresponsive = unresponsive;
        },
        close: () => plug.stop(),
      };
    });

    describeDriverContract(`mqtt homie lamp (${brokerName})`, async () => {
      const id = `lamp-${++unique}`;
      const base = `homie-test-${unique}`;
      const lamp = new HomieLamp({ url: broker.url, topic: id, base, intervalMs: 50, seed: unique });
      await lamp.start();
      return {
        driver: createMqttDriver({ connection, homie: base }),
        // A discovered device renamed by the config.
        devices: [{ id: 'lamp', driver: 'mqtt', key: `${base}/${id}` }],
        options: { url: broker.url },
        subject: {
          id: 'lamp',
          reported: 'light.power',
          writable: { name: 'light.brightness', value: 40, invalid: 101 },
          readOnly: 'light.power',
        },
        setDeviceOnline: (online) => lamp.setOnline(online),
        setDeviceUnresponsive: async (unresponsive) => {
          lamp.unresponsive = unresponsive;
        },
        close: () => lamp.stop(),
      };
    });
  });
}

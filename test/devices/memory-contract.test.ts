import { describeDriverContract } from '../../testing/index.js';
import { memoryDriver, SimulatedLamp } from './memory-driver.js';

describeDriverContract('memory', async () => {
  const lamp = new SimulatedLamp();
  lamp.start();
  return {
    driver: memoryDriver(lamp),
    subject: {
      id: 'lamp',
      reported: 'temperature',
      writable: { name: 'brightness', value: 80, invalid: 101 },
      readOnly: 'temperature',
      action: { name: 'blink', input: { times: 2 }, invalidInput: { times: 0 } },
    },
    async setDeviceOnline(online) {
      lamp.setPowered(online);
    },
    async setDeviceUnresponsive(unresponsive) {
      lamp.unresponsive = unresponsive;
    },
    async close() {
      lamp.stop();
    },
  };
}, { deadlineMs: 300 });

// The driver contract (from pasarela/testing) against the simulated __NAME__:
// devices listed with a valid description, values as PATCH, writes and actions with
// their statuses, offline and back, 504 at the deadline, and a clean stop.
// `npm test` runs it with node --test; `npx vitest run` runs it too.
import { describeDriverContract } from 'pasarela/testing';
import create__CLASS__Driver from '../index.js';
import { Simulated__CLASS__ } from '../simulator.js';

describeDriverContract('__NAME__', async () => {
  const device = new Simulated__CLASS__({ intervalMs: 20 });
  const port = await device.listen(0);
  return {
    driver: create__CLASS__Driver({ reconnect: { initialMs: 20, maxMs: 200 } }),
    devices: [{ id: '__NAME__', driver: '__NAME__', host: '127.0.0.1', port }],
    subject: {
      id: '__NAME__',
      reported: 'temperature',
      writable: { name: 'brightness', value: 80, invalid: 101 },
      readOnly: 'temperature',
      action: { name: 'blink', input: { times: 2 }, invalidInput: { times: 0 } },
    },
    setDeviceOnline: (online) => device.setPowered(online),
    setDeviceUnresponsive: async (unresponsive) => {
      device.unresponsive = unresponsive;
    },
    close: () => device.stop(),
  };
}, { deadlineMs: 500 });

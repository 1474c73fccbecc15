/**
 * The driver contract, run against the BLE driver and the simulated coffee maker,
 * reached through noble's real objects over the simulator's bindings.
 */
import { createBleDriver } from '../../drivers/ble/index.js';
import { createSimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import { describeDriverContract } from '../../testing/index.js';

describeDriverContract('ble coffee maker (simulated radio)', async () => {
  const coffee = createSimulatedCoffeeMaker({ speed: 50 });
  return {
    // The GATT timeout outlasts the contract's 1.5 s deadline twice over: a stalled
    // request keeps the queue until the firmware recovers, as it does in the 504 test.
    driver: createBleDriver({ bindings: coffee.radio, operationTimeoutMs: 5_000, connectTimeoutMs: 2_000, reconnect: { initialMs: 20, maxMs: 200 } }),
    devices: [{ id: 'coffee', driver: 'ble', profile: 'coffee-maker', name: 'Cafetera' }],
    subject: {
      id: 'coffee',
      reported: 'state',
      writable: { name: 'keepWarm', value: true, invalid: 'yes' },
      readOnly: 'water',
      action: { name: 'brew', input: { size: 'small' }, invalidInput: { size: 'huge' } },
    },
    setDeviceOnline: async (online) => coffee.radio.setReachable(coffee.address, online),
    setDeviceUnresponsive: async (unresponsive) => coffee.radio.setUnresponsive(coffee.address, unresponsive),
    close: async () => coffee.stop(),
  };
});

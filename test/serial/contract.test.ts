/**
 * The driver contract, run against the serial driver in both link protocols, with
 * the simulated robot on a real PTY pair (socat) opened through serialport's OS
 * binding. Offline is the cable pulled out (socat stopped); back online is socat
 * started again on the same paths.
 */
import { createSerialDriver } from '../../drivers/serial/index.js';
import { RobotOnPort } from '../../firmware-sim/robot/robot-port.js';
import { SimulatedRobot } from '../../firmware-sim/robot/robot.js';
import type { LinkProtocolName } from '../../firmware-sim/robot/protocol.js';
import { describeDriverContract } from '../../testing/index.js';
import { startPtyPair } from '../support/socat.js';

for (const protocol of ['jstp-cbor', 'line'] as LinkProtocolName[]) {
  describeDriverContract(`serial ${protocol} (robot on a PTY)`, async () => {
    const pty = await startPtyPair();
    const robot = new SimulatedRobot({ protocol, timeScale: 20 });
    const onPort = new RobotOnPort(robot, { path: pty.b });
    await onPort.ready();
    return {
      // Commands time out before the contract's 1.5 s deadline, so the line is free again for the next call.
      driver: createSerialDriver({ commandTimeoutMs: 800, presenceCheckMs: 50, reconnect: { initialMs: 20, maxMs: 200 } }),
      devices: [{ id: 'rover', driver: 'serial', path: pty.a, protocol, ...(protocol === 'line' ? { profile: 'robot-line' } : {}) }],
      subject: {
        id: 'rover',
        reported: 'battery',
        writable: { name: 'speed', value: 0.5, invalid: 'fast' },
        readOnly: 'battery',
        action: { name: 'move', input: { distance: 0.2 }, invalidInput: { distance: 'far' } },
      },
      async setDeviceOnline(online) {
        if (online) {
          await pty.start();
          await onPort.ready();
        } else {
          await pty.stop();
        }
      },
      async setDeviceUnresponsive(unresponsive) {
        robot.setUnresponsive(unresponsive);
      },
      async close() {
        robot.stop();
        await onPort.close();
        await pty.close();
      },
    };
  });
}

/**
 * A serial robot on a real PTY pair, behind the driver, the device registry and an
 * engine: socat makes the pair, the simulated robot opens end `b` with serialport's
 * OS binding, the driver opens end `a`.
 */
import { createSerialDriver, type SerialDriverOptions } from '../../drivers/serial/index.js';
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import { RobotOnPort } from '../../firmware-sim/robot/robot-port.js';
import { SimulatedRobot, type SimulatedRobotOptions } from '../../firmware-sim/robot/robot.js';
import type { LinkProtocolName } from '../../firmware-sim/robot/protocol.js';
import { ContractGateway } from '../../testing/index.js';
import { startPtyPair, type PtyPair } from '../support/socat.js';

export interface RobotRig {
  pty: PtyPair;
  robot: SimulatedRobot;
  onPort: RobotOnPort;
  device: DeviceConfig;
  /** Starts the driver behind a fresh gateway. */
  startDriver(options?: SerialDriverOptions, deadlineMs?: number): Promise<{ driver: Driver; gateway: ContractGateway }>;
  close(): Promise<void>;
}

export async function robotOnPty(protocol: LinkProtocolName, robotOptions: SimulatedRobotOptions = {}): Promise<RobotRig> {
  const pty = await startPtyPair();
  // Simulated time 20x: a half-metre move takes 100 ms of real time.
  const robot = new SimulatedRobot({ protocol, timeScale: 20, ...robotOptions });
  const onPort = new RobotOnPort(robot, { path: pty.b });
  await onPort.ready();
  const device: DeviceConfig = {
    id: 'rover', driver: 'serial', path: pty.a, baudRate: 115200, protocol,
    ...(protocol === 'line' ? { profile: 'robot-line' } : {}),
  };
  const started: { driver: Driver; gateway: ContractGateway }[] = [];
  return {
    pty, robot, onPort, device,
    async startDriver(options = {}, deadlineMs = 5_000) {
      const driver = createSerialDriver({ commandTimeoutMs: 2_000, presenceCheckMs: 50, reconnect: { initialMs: 20, maxMs: 200 }, ...options });
      const gateway = new ContractGateway(deadlineMs, [device]);
      await driver.start(gateway.registry.context('serial', [device]));
      started.push({ driver, gateway });
      return { driver, gateway };
    },
    async close() {
      for (const { driver, gateway } of started) {
        await driver.stop();
        gateway.close();
      }
      robot.stop();
      await onPort.close();
      await pty.close();
    },
  };
}

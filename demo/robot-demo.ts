/**
 * The simulated robot for `npm start`: on a real PTY pair when socat is installed,
 * otherwise on an in-process virtual port. It gives the config entry and the binding
 * to hand the serial driver, and logs which of the two it chose.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { autoDetect, type BindingInterface } from '@serialport/bindings-cpp';
import { type Logger } from '../gateway/jstp/logger.js';
import type { LinkProtocolName } from '../firmware-sim/robot/protocol.js';
import { SimulatedRobot } from '../firmware-sim/robot/robot.js';
import { RobotOnPort } from '../firmware-sim/robot/robot-port.js';
import { SocatPair, socatAvailable } from '../firmware-sim/robot/socat-pair.js';
import { VirtualSerialPorts } from '../firmware-sim/robot/virtual-port.js';

export interface RobotDemoOptions {
  logger: Logger;
  /** Device id (default `rover`). */
  id?: string;
  protocol?: LinkProtocolName;
  /** Simulated time speed-up (default 1). */
  timeScale?: number;
  /** `virtual` skips socat even when it is installed. */
  prefer?: 'pty' | 'virtual';
}

export interface RobotDemo {
  readonly mode: 'pty' | 'virtual';
  /** The `devices:` entry for the serial driver. */
  readonly device: { id: string; driver: 'serial'; path: string; baudRate: number; protocol: LinkProtocolName; profile?: string };
  /** For `createSerialDriver({ binding })`: virtual ports, other paths through the OS binding; undefined on a PTY (the OS binding). */
  readonly binding: BindingInterface | undefined;
  readonly robot: SimulatedRobot;
  close(): Promise<void>;
}

export async function startRobotDemo(options: RobotDemoOptions): Promise<RobotDemo> {
  const id = options.id ?? 'rover';
  const protocol = options.protocol ?? 'jstp-cbor';
  const logger = options.logger.child({ simulator: 'robot' });
  const robot = new SimulatedRobot({ protocol, timeScale: options.timeScale ?? 1, logger });
  const entry = (devicePath: string) => ({
    id, driver: 'serial' as const, path: devicePath, baudRate: 115200, protocol,
    ...(protocol === 'line' ? { profile: 'robot-line' } : {}),
  });

  if (options.prefer !== 'virtual' && (await socatAvailable())) {
    const dir = await mkdtemp(path.join(tmpdir(), 'pasarela-robot-'));
    const pair = new SocatPair({ dir, logger });
    try {
      await pair.start();
      const onPort = new RobotOnPort(robot, { path: pair.b, logger });
      await onPort.ready();
      logger.info({ path: pair.a, robotEnd: pair.b, protocol }, 'simulated robot on a PTY pair (socat)');
      return {
        mode: 'pty', device: entry(pair.a), binding: undefined, robot,
        async close() {
          robot.stop();
          await onPort.close();
          await pair.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      logger.warn({ err: error }, 'socat could not make a PTY pair; using an in-process virtual port');
      await pair.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }

  // Real ports in the config still open through the OS binding.
  const ports = new VirtualSerialPorts(autoDetect());
  const devicePath = `/virtual/${id}`;
  robot.attach(ports.plug(devicePath));
  logger.info({ path: devicePath, protocol }, 'simulated robot on an in-process virtual serial port (socat not available)');
  return {
    mode: 'virtual', device: entry(devicePath), binding: ports.binding, robot,
    async close() {
      robot.stop();
      ports.close();
    },
  };
}

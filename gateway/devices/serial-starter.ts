/**
 * The serial driver as a gateway driver starter. With `demo`, a simulated robot runs
 * on a PTY pair when socat is present, otherwise on an in-process virtual port (the
 * demo logs which); real ports from the config open alongside it.
 */
import { createSerialDriver } from '../../drivers/serial/index.js';
import { startRobotDemo } from '../../firmware-sim/robot/index.js';
import { driverStarter, wantsDriver } from './driver-starter.js';
import type { DriverStarterLike } from './starters.js';

export interface SerialStarterOptions {
  /** Run the simulated robot (`pasarela --demo`). */
  demo?: boolean;
  /** Deadline of reads, writes and actions. */
  deadlineMs?: number;
}

export function serialStarter(options: SerialStarterOptions = {}): DriverStarterLike {
  return driverStarter('serial', async (context) => {
    if (!options.demo || context.devices.some((device) => device.id === 'rover')) return { driver: createSerialDriver() };
    const demo = await startRobotDemo({ logger: context.logger });
    const driver = createSerialDriver(demo.binding ? { binding: demo.binding } : {});
    return { driver, devices: [demo.device], cleanup: () => demo.close() };
  }, options);
}

/** What the CLI starts for serial: the demo's robot, or configured `serial` devices; otherwise nothing. */
export function serialStarters(config: { readonly devices: readonly { driver: string }[] }, options: SerialStarterOptions = {}): DriverStarterLike[] {
  return wantsDriver('serial', config, options.demo) ? [serialStarter(options)] : [];
}

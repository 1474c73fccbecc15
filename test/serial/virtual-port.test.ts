/**
 * The demo's fallback when there is no socat: the robot on an in-process virtual
 * port, opened by the driver through serialport's stream over the virtual binding.
 * Unplugging the virtual port takes the device offline; plugging it back brings it back.
 */
import { once } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSerialDriver } from '../../drivers/serial/index.js';
import type { Driver } from '../../drivers/driver.js';
import { startRobotDemo, type RobotDemo } from '../../demo/robot-demo.js';
import { SimulatedRobot } from '../../firmware-sim/robot/robot.js';
import { VirtualSerialPorts } from '../../firmware-sim/robot/virtual-port.js';
import { ContractGateway } from '../../testing/index.js';

describe('robot on a virtual port', () => {
  let cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  async function run(driver: Driver, device: Record<string, unknown> & { id: string; driver: string }) {
    const gateway = new ContractGateway(5_000, [device]);
    await driver.start(gateway.registry.context('serial', [device]));
    cleanup.push(async () => {
      await driver.stop();
      gateway.close();
    });
    return gateway;
  }

  it('the demo factory falls back to a virtual port, says so, and the action round trip works', async () => {
    const lines: { msg: string; path?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const demo: RobotDemo = await startRobotDemo({ logger, prefer: 'virtual', timeScale: 20 });
    cleanup.push(() => demo.close());
    expect(demo.mode).toBe('virtual');
    expect(lines.some((line) => /in-process virtual serial port/.test(line.msg))).toBe(true);
    const gateway = await run(createSerialDriver({ ...(demo.binding ? { binding: demo.binding } : {}), reconnect: { initialMs: 20, maxMs: 200 } }), demo.device);
    await gateway.waitFor('rover', true);
    expect(await gateway.call('POST', ['devices', 'rover', 'actions', 'rotate'], { angle: 45 })).toEqual({ status: 200, body: { etaMs: 500 } });
  });

  it('unplugged: offline and 502 for the call in flight; plugged back: online', async () => {
    const ports = new VirtualSerialPorts();
    const robot = new SimulatedRobot({ protocol: 'line', timeScale: 20 });
    const end = ports.plug('/virtual/rover');
    robot.attach(end);
    cleanup.push(async () => {
      robot.stop();
      ports.close();
    });
    const device = { id: 'rover', driver: 'serial', path: '/virtual/rover', protocol: 'line', profile: 'robot-line' };
    const gateway = await run(createSerialDriver({ binding: ports.binding, commandTimeoutMs: 60_000, reconnect: { initialMs: 20, maxMs: 200 } }), device);
    await gateway.waitFor('rover', true);
    robot.setUnresponsive(true);
    const sent = once(end, 'data');
    const pending = gateway.call('PUT', ['devices', 'rover', 'properties', 'speed'], 0.4);
    await sent; // the command is on the line, unanswered
    const offline = gateway.waitFor('rover', false);
    ports.unplug('/virtual/rover');
    await offline;
    expect((await pending).status).toBe(502);
    robot.setUnresponsive(false);
    const online = gateway.waitFor('rover', true);
    robot.attach(ports.plug('/virtual/rover'));
    await online;
    expect(await gateway.call('PUT', ['devices', 'rover', 'properties', 'speed'], 0.4)).toEqual({ status: 200, body: 0.4 });
  });
});

/**
 * The demo's robot with socat installed (as .ci/run installs it): a real PTY pair,
 * said so in the log, reached by the driver through the OS binding.
 */
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { createSerialDriver } from '../../drivers/serial/index.js';
import { startRobotDemo, type RobotDemo } from '../../demo/robot-demo.js';
import { ContractGateway } from '../../testing/index.js';

let demo: RobotDemo | undefined;
afterEach(async () => demo?.close());

it('the demo factory puts the robot on a PTY pair when socat is present, and says so', async () => {
  const lines: { msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  demo = await startRobotDemo({ logger, protocol: 'line', timeScale: 20 });
  expect(demo.mode).toBe('pty');
  expect(demo.binding).toBeUndefined();
  expect(lines.some((line) => /PTY pair \(socat\)/.test(line.msg))).toBe(true);
  const gateway = new ContractGateway(5_000, [demo.device]);
  const driver = createSerialDriver({ reconnect: { initialMs: 20, maxMs: 200 } });
  try {
    await driver.start(gateway.registry.context('serial', [demo.device]));
    await gateway.waitFor('rover', true);
    expect(await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 0.25 })).toEqual({ status: 200, body: { etaMs: 1000 } });
  } finally {
    await driver.stop();
    gateway.close();
  }
});

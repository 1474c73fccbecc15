/**
 * The robot model alone, driven with simulated time by hand: no timers, no port.
 */
import { describe, expect, it } from 'vitest';
import { RobotModel, RobotRefused, type RobotChange } from '../../firmware-sim/robot/model.js';

function robot(options: ConstructorParameters<typeof RobotModel>[1] = {}) {
  const changes: RobotChange[] = [];
  const model = new RobotModel((change) => changes.push(change), options);
  const events = (name: string) => changes.filter((c) => c.kind === 'event' && c.name === name).map((c) => (c as { data: unknown }).data);
  return { model, changes, events };
}

function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof RobotRefused) return error.reason;
    throw error;
  }
  return undefined;
}

describe('robot model', () => {
  it('moves at its speed, reports progress by quarters, then done', () => {
    const { model, events } = robot();
    expect(model.move(1)).toEqual({ etaMs: 4000 });
    expect(model.state).toBe('moving');
    for (let t = 0; t < 40; t++) model.advance(100);
    expect(model.pose).toEqual({ x: 1, y: 0, heading: 0 });
    expect(events('progress')).toEqual([0.25, 0.5, 0.75].map((done) => ({ action: 'move', done })));
    expect(events('done')).toEqual([{ action: 'move', completed: true }]);
    expect(model.state).toBe('idle');
  });

  it('rotates, then moves along the new heading', () => {
    const { model } = robot();
    model.rotate(90);
    for (let t = 0; t < 10; t++) model.advance(100);
    expect(model.pose.heading).toBe(90);
    model.move(-0.5);
    for (let t = 0; t < 20; t++) model.advance(100);
    expect(model.pose).toEqual({ x: 0, y: -0.5, heading: 90 });
  });

  it('stop interrupts a move where it is', () => {
    const { model, events } = robot();
    model.move(2);
    model.advance(1000);
    expect(model.stop()).toEqual({ interrupted: true });
    expect(model.pose.x).toBe(0.25);
    expect(events('done')).toEqual([{ action: 'move', completed: false, reason: 'stopped' }]);
    expect(model.stop()).toEqual({ interrupted: false });
  });

  it('bumps into the wall and stops there', () => {
    const { model, events } = robot({ speed: 1 });
    model.move(10);
    for (let t = 0; t < 30; t++) model.advance(100);
    expect(events('bumper')).toEqual([{ x: 1.9, y: 0 }]);
    expect(events('done')).toEqual([{ action: 'move', completed: false, reason: 'bumper' }]);
    expect(model.pose.x).toBe(1.9);
  });

  it('warns once of a low battery, and refuses moves when it is nearly empty', () => {
    const { model, events } = robot({ battery: 16, drainPerMetre: 10, speed: 1 });
    model.move(1.5);
    for (let t = 0; t < 15; t++) model.advance(100);
    expect(events('lowBattery')).toEqual([{ battery: 14 }]);
    expect(model.values.battery).toBe(1);
    expect(refusal(() => model.move(0.1))).toBe('battery-low');
  });

  it('refuses bad values, a second move while busy, and moves with the motors off', () => {
    const { model, events } = robot();
    expect(refusal(() => model.move('far'))).toBe('bad-value');
    expect(refusal(() => model.move(11))).toBe('bad-value');
    expect(refusal(() => model.setSpeed(2))).toBe('bad-value');
    model.move(1);
    expect(refusal(() => model.rotate(10))).toBe('busy');
    model.setMotors(false);
    expect(events('done')).toEqual([{ action: 'move', completed: false, reason: 'motors off' }]);
    expect(refusal(() => model.move(1))).toBe('motors-off');
  });

  it('charges while idle', () => {
    const { model } = robot({ battery: 50, idleChargePerMinute: 6 });
    for (let t = 0; t < 600; t++) model.advance(100);
    expect(model.values.battery).toBe(56);
  });
});

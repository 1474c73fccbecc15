/** The coffee maker's firmware logic, in sped-up simulated time. */
import { afterEach, describe, expect, it } from 'vitest';
import { CoffeeMachine, type MachineField, type MachineSnapshot } from '../../firmware-sim/coffee-maker/index.js';

let machine: CoffeeMachine | undefined;

afterEach(() => {
  machine?.stop();
  machine = undefined;
});

function until(target: CoffeeMachine, accept: (snapshot: MachineSnapshot, field: MachineField) => boolean): Promise<MachineSnapshot> {
  return new Promise((resolve) => {
    const listener = (field: MachineField, snapshot: MachineSnapshot): void => {
      if (!accept(snapshot, field)) return;
      target.off('change', listener);
      resolve(snapshot);
    };
    target.on('change', listener);
  });
}

function recordStates(target: CoffeeMachine): string[] {
  const states: string[] = [];
  target.on('change', (field, snapshot) => {
    if (field === 'state') states.push(snapshot.state);
  });
  return states;
}

describe('CoffeeMachine', () => {
  it('heats, brews and is ready, using the cup\'s water and counting the cup', async () => {
    machine = new CoffeeMachine({ speed: 200 });
    const states = recordStates(machine);
    const temperatures: number[] = [];
    machine.on('change', (field, snapshot) => {
      if (field === 'boilerTemperature') temperatures.push(snapshot.boilerTemperature);
    });
    expect(machine.brew('medium', 'mild')).toBeUndefined();
    const done = await until(machine, (snapshot) => snapshot.state === 'ready');
    expect(states).toEqual(['heating', 'brewing', 'ready']);
    expect(done).toMatchObject({ water: 100 - CoffeeMachine.waterFor('medium'), cupsBrewed: 1, battery: 99, error: null, boilerTemperature: 92 });
    // The boiler only warms up while heating.
    expect(temperatures).toEqual([...temperatures].sort((a, b) => a - b));
  });

  it('refuses to brew with too little water and stays put until refilled', async () => {
    machine = new CoffeeMachine({ speed: 200, water: 9 });
    const states = recordStates(machine);
    expect(machine.brew('small')).toBe('no-water');
    expect(machine.snapshot()).toMatchObject({ state: 'error', error: 'no-water', water: 9 });
    // Each refused command is announced again, so the firmware can notify it.
    expect(machine.brew('small')).toBe('no-water');
    expect(states).toEqual(['error', 'error']);
    machine.refill();
    expect(machine.snapshot()).toMatchObject({ state: 'idle', error: null, water: 100 });
    expect(machine.brew('small')).toBeUndefined();
    await until(machine, (snapshot) => snapshot.state === 'ready');
  });

  it('answers busy while brewing, without leaving the brew', async () => {
    machine = new CoffeeMachine({ speed: 200 });
    machine.brew('small');
    expect(machine.brew('large')).toBe('busy');
    expect(machine.snapshot()).toMatchObject({ state: 'heating', error: 'busy' });
    const done = await until(machine, (snapshot) => snapshot.state === 'ready');
    expect(done).toMatchObject({ error: null, water: 100 - CoffeeMachine.waterFor('small') });
  });

  it('cools to room temperature, or to the keep-warm temperature when keep-warm is on', async () => {
    machine = new CoffeeMachine({ speed: 500, ambient: 20 });
    machine.brew('small');
    await until(machine, (snapshot) => snapshot.state === 'ready');
    machine.setKeepWarm(true);
    await until(machine, (snapshot) => snapshot.boilerTemperature === 80);
    expect(machine.clock.pending).toBe(0);
    machine.setKeepWarm(false);
    await until(machine, (snapshot) => snapshot.boilerTemperature === 20);
    expect(machine.clock.pending).toBe(0);
  });

  it('stops every timer, even in the middle of a brew', () => {
    machine = new CoffeeMachine({ speed: 1 });
    machine.brew('large');
    expect(machine.clock.pending).toBeGreaterThan(0);
    machine.stop();
    expect(machine.clock.pending).toBe(0);
    expect(() => new CoffeeMachine({ speed: 0 })).toThrow(RangeError);
  });
});

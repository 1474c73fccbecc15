/**
 * The supervisor on a real registry and engine, with a driver's failures raised as
 * the command's process handlers raise them (`claimDriverFault`, inside the driver's
 * own scope): what a failed driver reports afterwards is ignored, a start that hangs
 * fails at its deadline, a config error on the first start is the caller's, the
 * gateway's own code is never blamed on a driver, and a close while a restart is
 * waiting cancels it.
 */
import { AsyncResource } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceHandle, Driver, DriverContext } from '../../drivers/driver.js';
import { DeviceRegistry } from '../../gateway/devices/registry.js';
import { asGateway, claimDriverFault } from '../../gateway/driver-host/fault-scope.js';
import { DriverSupervisor, type RestartPolicy } from '../../gateway/driver-host/supervisor.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { errors } from '../../gateway/jstp/errors.js';
import { silentLogger } from '../../gateway/jstp/logger.js';

let engine: Engine;
let supervisors: DriverSupervisor[] = [];

afterEach(async () => {
  for (const supervisor of supervisors.splice(0)) await supervisor.stop();
  engine?.close();
});

function supervise(driver: Driver, restart: RestartPolicy = false, startTimeoutMs?: number): { supervisor: DriverSupervisor; registry: DeviceRegistry } {
  engine = new Engine();
  const registry = new DeviceRegistry({ engine });
  const supervisor = new DriverSupervisor({
    driver,
    registry,
    logger: silentLogger(),
    devices: [],
    options: {},
    profiles: {},
    source: { origin: 'file', module: './x.js' },
    restart,
    ...(startTimeoutMs === undefined ? {} : { startTimeoutMs }),
  });
  supervisors.push(supervisor);
  return { supervisor, registry };
}

/**
 * A driver with one device whose own code fails on demand: `fail` runs a callback
 * bound in `start` (as a timer or a socket handler of the driver's is), so the failure
 * is raised in the driver's scope, as the command's process handler sees it. Returns
 * whether the supervisor claimed it.
 */
function failingLater(): { driver: Driver; fail(): boolean; handle(): DeviceHandle; starts: number; stops: number } {
  let handle: DeviceHandle | undefined;
  let raise: (() => boolean) | undefined;
  const state = {
    starts: 0,
    stops: 0,
    driver: {
      name: 'lamp',
      async start(context: DriverContext) {
        state.starts++;
        handle = context.addDevice({ key: 'lamp-1', id: 'lamp', properties: { level: { type: 'integer' } } }, {});
        handle.setOnline(true);
        raise = AsyncResource.bind(() => claimDriverFault(new Error('the lamp driver broke'), 'uncaught exception'));
      },
      async stop() {
        state.stops++;
      },
    } satisfies Driver,
    fail: () => raise!(),
    handle: () => handle!,
  };
  return state;
}

describe('the supervisor', () => {
  it('takes the devices offline on a failure and ignores what the failed driver reports afterwards', async () => {
    const lamp = failingLater();
    const { supervisor, registry } = supervise(lamp.driver);
    await supervisor.start();
    lamp.handle().reportProperty('level', 3);
    expect(registry.list()).toEqual([expect.objectContaining({ id: 'lamp', online: true })]);

    expect(lamp.fail()).toBe(true);
    expect(supervisor.status()).toMatchObject({ state: 'failed', failures: 1, lastFailure: { message: 'the lamp driver broke', during: 'uncaught exception' } });
    expect(registry.list()).toEqual([expect.objectContaining({ id: 'lamp', online: false })]);
    await expect.poll(() => lamp.stops).toBe(1);

    // A callback of the failed driver still running: nothing it does reaches the gateway.
    lamp.handle().setOnline(true);
    lamp.handle().reportProperty('level', 9);
    lamp.handle().remove();
    expect(registry.list()).toEqual([expect.objectContaining({ id: 'lamp', online: false })]);
    expect(registry.values('lamp')).toEqual({ level: { value: 3, at: expect.any(Number) } });
    // The failed start's code failing again is claimed (it ends nothing) but not counted again.
    expect(lamp.fail()).toBe(true);
    expect(supervisor.status().failures).toBe(1);
  });

  it('starts the driver again after the backoff, with a fresh context whose handles work', async () => {
    const lamp = failingLater();
    const { supervisor, registry } = supervise(lamp.driver, { initialMs: 20, maxMs: 20, jitter: 0 });
    await supervisor.start();
    expect(lamp.fail()).toBe(true);
    expect(supervisor.state).toBe('failed');
    await expect.poll(() => lamp.starts).toBe(2);
    expect(supervisor.status()).toMatchObject({ state: 'running', failures: 1 });
    expect(registry.list()).toEqual([expect.objectContaining({ id: 'lamp', online: true })]);
    lamp.handle().reportProperty('level', 4);
    expect(registry.values('lamp').level?.value).toBe(4);
  });

  it('fails a start that does not finish by its deadline', async () => {
    const { supervisor } = supervise({ name: 'slow', start: () => new Promise(() => undefined), stop: async () => undefined }, false, 50);
    await supervisor.start();
    expect(supervisor.status()).toMatchObject({ state: 'failed', lastFailure: { message: 'driver "slow" start did not finish within 50 ms', during: 'start' } });
  });

  it('hands a config error of the first start to the caller, and does not start the driver again', async () => {
    let stops = 0;
    const { supervisor, registry } = supervise({ name: 'ble', start: async () => Promise.reject(errors.config('ble.scan: not a mapping')), stop: async () => void stops++ }, { initialMs: 10 });
    await expect(supervisor.start()).rejects.toThrow('ble.scan: not a mapping');
    expect(stops).toBe(1);
    expect(supervisor.state).toBe('stopped');
    expect(registry.drivers()).toEqual([]);
  });

  it('never blames a driver for the gateway code it calls', async () => {
    const claimed: boolean[] = [];
    const { supervisor } = supervise({
      name: 'reporter',
      async start() {
        // What the gateway runs on the driver's behalf (a report reaching the engine) runs outside its scope.
        asGateway(() => claimed.push(claimDriverFault(new Error('a gateway bug'), 'uncaught exception')));
      },
      async stop() {},
    });
    await supervisor.start();
    expect(claimed).toEqual([false]);
    expect(supervisor.status()).toMatchObject({ state: 'running', failures: 0 });
    // Outside any driver, nothing is claimed: the command ends the process.
    expect(claimDriverFault(new Error('elsewhere'), 'unhandled rejection')).toBe(false);
  });

  it('keeps a driver\'s handles live while it stops, so it takes its own devices offline', async () => {
    let handle: DeviceHandle | undefined;
    const { supervisor } = supervise({
      name: 'lamp',
      async start(context) {
        handle = context.addDevice({ key: 'lamp-1', id: 'lamp' }, {});
        handle.setOnline(true);
      },
      async stop() {
        handle!.setOnline(false);
      },
    });
    await supervisor.start();
    const seen: unknown[] = [];
    engine.bind({ method: 'PATCH', resource: ['devices', 'lamp'] }, ({ body }) => void seen.push(body));
    await supervisor.stop();
    // Offline as the driver said, then no second "removed" PATCH for a device already offline.
    expect(seen).toEqual([{ online: false }]);
  });

  it('cancels a waiting restart when the gateway closes', async () => {
    const lamp = failingLater();
    const { supervisor } = supervise(lamp.driver, { initialMs: 60_000 });
    await supervisor.start();
    expect(lamp.fail()).toBe(true);
    await expect.poll(() => supervisor.status().restartAt).toBeGreaterThan(Date.now());
    await supervisor.stop();
    expect(supervisor.status()).toMatchObject({ state: 'stopped' });
    expect(supervisor.status().restartAt).toBeUndefined();
    expect(lamp.starts).toBe(1);
  });
});

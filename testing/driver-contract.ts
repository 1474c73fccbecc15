/**
 * The contract every driver passes against its simulator:
 *
 * ```ts
 * describeDriverContract('lamp', async () => ({ driver, devices, subject, setDeviceOnline, close }));
 * ```
 *
 * Each test gets a fresh harness from `setup`, runs the driver behind the real device
 * registry and a real engine, and checks what the gateway promises: devices appear
 * with valid descriptions, values arrive as PATCH, reads, writes and actions answer
 * with the right statuses, deadlines give 504, offline gives 502, and stop is clean
 * (no timers or sockets left), idempotent, and followed by a working start. Waits are
 * for events, bounded by the test timeout; nothing is timed. Assertions use node:assert,
 * so the suite runs under vitest and under `node --test` alike.
 */
import assert from 'node:assert/strict';
import type { DeviceConfig, Driver } from '../drivers/driver.js';
import { loadProfile } from '../drivers/profile.js';
import { ContractGateway } from './contract-gateway.js';
import { activeResources, leftAfter } from './leaks.js';
import { runnerFor, type TestControl, type TestFunctions } from './runner.js';

/** The device the suite exercises, and which of its members to use. */
export interface ContractSubject {
  /** Its id in the registry (e.g. the config entry's id). */
  id: string;
  /** A property the device reports on its own. */
  reported: string;
  /** A writable property, a value to write, and one its schema rejects. */
  writable?: { name: string; value: unknown; invalid: unknown };
  /** A property that is not writable. */
  readOnly?: string;
  /** An action, an input it accepts and (if its input has a schema) one it rejects. */
  action?: { name: string; input?: unknown; invalidInput?: unknown };
}

export interface DriverHarness {
  driver: Driver;
  /** The config entries for this driver. */
  devices?: DeviceConfig[];
  /** Driver-wide options (what the config gives the driver as `context.options`). */
  options?: Record<string, unknown>;
  /** Profiles from the config's profile files (`context.profiles`). */
  profiles?: Record<string, unknown>;
  subject: ContractSubject;
  /** Switches the simulated device off (power or link lost) or back on. */
  setDeviceOnline(online: boolean): Promise<void>;
  /** Makes the device ignore commands while staying online; without it the deadline test is skipped. */
  setDeviceUnresponsive?(unresponsive: boolean): Promise<void>;
  /** Stops the simulator and whatever else setup started. */
  close(): Promise<void>;
}

export interface ContractOptions {
  /** The registry's deadline for reads, writes and actions (default 1500 ms). */
  deadlineMs?: number;
  /** Each test's and hook's timeout (default 30 s). */
  timeoutMs?: number;
  /** The runner's functions; by default vitest's under vitest, node:test's otherwise. */
  test?: TestFunctions;
}

function listed(body: unknown): Record<string, unknown>[] {
  assert.ok(Array.isArray(body), 'GET ["devices"] answers a list');
  return body as Record<string, unknown>[];
}

export function describeDriverContract(name: string, setup: () => Promise<DriverHarness>, options: ContractOptions = {}): void {
  const deadlineMs = options.deadlineMs ?? 1500;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { describe, it, beforeEach, afterEach } = runnerFor(options.test);

  describe(`driver contract: ${name}`, () => {
    let harness: DriverHarness;
    let gateway: ContractGateway;
    let started = false;
    let tornDown = false;

    beforeEach(async () => {
      harness = await setup();
      gateway = new ContractGateway(deadlineMs, harness.devices);
      started = false;
      tornDown = false;
    }, timeoutMs);

    /** Once per test: from afterEach, or before a skip (node:test runs no afterEach for a skipped test). */
    async function tearDown(): Promise<void> {
      if (tornDown) return;
      tornDown = true;
      if (started) await harness.driver.stop();
      gateway.close();
      await harness.close();
    }

    afterEach(tearDown, timeoutMs);

    async function skip(test: TestControl, reason: string): Promise<void> {
      await tearDown();
      test.skip(reason);
    }

    async function start(): Promise<void> {
      const context = gateway.registry.context(harness.driver.name, harness.devices ?? [], harness.options ?? {}, undefined, harness.profiles ?? {});
      await harness.driver.start(context);
      started = true;
    }

    async function startOnline(): Promise<string> {
      const id = harness.subject.id;
      const online = gateway.waitFor(id, true);
      await start();
      await online;
      return id;
    }

    async function status(...request: Parameters<ContractGateway['call']>): Promise<number> {
      return (await gateway.call(...request)).status;
    }

    it('lists the device with a description that is a valid profile', async () => {
      const id = await startOnline();
      const list = await gateway.call('GET', ['devices']);
      assert.equal(list.status, 200);
      const entry = listed(list.body).find((device) => device.id === id);
      assert.deepEqual(entry && { id: entry.id, driver: entry.driver, online: entry.online }, { id, driver: harness.driver.name, online: true });
      const details = await gateway.call('GET', ['devices', id]);
      assert.equal(details.status, 200);
      const { id: _id, driver: _driver, online: _online, ...description } = details.body as Record<string, unknown>;
      assert.doesNotThrow(() => loadProfile(`${name}/${id}`, description));
      const properties = (description.properties ?? {}) as Record<string, unknown>;
      assert.ok(Object.keys(properties).includes(harness.subject.reported), `the description lists the property "${harness.subject.reported}"`);
    }, timeoutMs);

    it('turns reported values into PATCH dispatches and serves them on GET', async () => {
      const { reported, id } = harness.subject;
      const patch = gateway.next({ method: 'PATCH', resource: ['devices', id, 'properties', reported] });
      await start();
      const body = (await patch) as { value: unknown; at: number };
      assert.notEqual(body.value, undefined);
      assert.equal(typeof body.at, 'number');
      await gateway.waitFor(id, true);
      const read = await gateway.call('GET', ['devices', id, 'properties', reported]);
      assert.equal(read.status, 200);
      assert.notEqual(read.body, undefined);
    }, timeoutMs);

    it('answers 404 for an unknown device, property or action', async () => {
      const id = await startOnline();
      assert.equal(await status('GET', ['devices', 'no-such-device']), 404);
      assert.equal(await status('GET', ['devices', id, 'properties', 'no-such-property']), 404);
      assert.equal(await status('PUT', ['devices', id, 'properties', 'no-such-property'], 1), 404);
      assert.equal(await status('POST', ['devices', id, 'actions', 'no-such-action'], {}), 404);
    }, timeoutMs);

    it('writes a writable property: 200 with the confirmed value, 400 for a bad value, 403 when read-only', async (test) => {
      const { writable, readOnly } = harness.subject;
      if (!writable && !readOnly) return skip(test, 'the subject names no writable or read-only property');
      const id = await startOnline();
      if (writable) {
        assert.equal(await status('PUT', ['devices', id, 'properties', writable.name], writable.invalid), 400);
        assert.deepEqual(await gateway.call('PUT', ['devices', id, 'properties', writable.name], writable.value), { status: 200, body: writable.value });
        // The confirmed value is now the property's value.
        assert.deepEqual(await gateway.call('GET', ['devices', id, 'properties', writable.name]), { status: 200, body: writable.value });
      }
      if (readOnly) assert.equal(await status('PUT', ['devices', id, 'properties', readOnly], 1), 403);
    }, timeoutMs);

    it('invokes an action: 200, and 400 for input that does not fit its schema', async (test) => {
      const { action } = harness.subject;
      if (!action) return skip(test, 'the subject names no action');
      const id = await startOnline();
      if (action.invalidInput !== undefined) assert.equal(await status('POST', ['devices', id, 'actions', action.name], action.invalidInput), 400);
      assert.equal(await status('POST', ['devices', id, 'actions', action.name], action.input), 200);
    }, timeoutMs);

    it('reports the device offline (PATCH), answers 502 while it is, and recovers', async () => {
      const id = await startOnline();
      const { writable, action, reported } = harness.subject;
      const offline = gateway.waitFor(id, false);
      await harness.setDeviceOnline(false);
      await offline;
      assert.equal(await status('GET', ['devices', id, 'properties', reported]), 502);
      if (writable) assert.equal(await status('PUT', ['devices', id, 'properties', writable.name], writable.value), 502);
      if (action) assert.equal(await status('POST', ['devices', id, 'actions', action.name], action.input), 502);
      const details = await gateway.call('GET', ['devices', id]);
      assert.equal((details.body as { online?: unknown }).online, false);
      const online = gateway.waitFor(id, true);
      await harness.setDeviceOnline(true);
      await online;
      await gateway.waitForValue(id, reported);
      assert.equal(await status('GET', ['devices', id, 'properties', reported]), 200);
    }, timeoutMs);

    it('answers 504 when the device does not answer before the deadline, then works again', async (test) => {
      const { writable, action } = harness.subject;
      if (!harness.setDeviceUnresponsive) return skip(test, 'the harness cannot make the device unresponsive');
      if (!writable && !action) return skip(test, 'the subject names no writable property or action');
      const id = await startOnline();
      await harness.setDeviceUnresponsive(true);
      if (writable) assert.equal(await status('PUT', ['devices', id, 'properties', writable.name], writable.value), 504);
      if (action) assert.equal(await status('POST', ['devices', id, 'actions', action.name], action.input), 504);
      await harness.setDeviceUnresponsive(false);
      if (writable) assert.equal(await status('PUT', ['devices', id, 'properties', writable.name], writable.value), 200);
      if (action) assert.equal(await status('POST', ['devices', id, 'actions', action.name], action.input), 200);
    }, timeoutMs);

    it('stops cleanly: no timers or sockets left, and a second stop is harmless', async () => {
      const baseline = activeResources();
      await startOnline();
      await harness.driver.stop();
      started = false;
      await harness.driver.stop();
      gateway.registry.removeDriver(harness.driver.name);
      assert.deepEqual(await leftAfter(baseline, 5_000), {}, 'timers or handles left after stop()');
    }, timeoutMs);

    it('can be started again after a stop', async () => {
      await startOnline();
      await harness.driver.stop();
      started = false;
      gateway.registry.removeDriver(harness.driver.name);
      const id = await startOnline();
      assert.ok(gateway.registry.list().some((device) => device.id === id), `"${id}" is listed again`);
    }, timeoutMs);
  });
}

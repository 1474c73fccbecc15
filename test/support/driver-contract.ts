/**
 * The contract every driver passes against its simulator:
 *
 * ```ts
 * describeDriverContract('mqtt (aedes)', async () => ({ driver, subject, setDeviceOnline, close, ... }));
 * ```
 *
 * Each test gets a fresh harness from `setup`, runs the driver behind the real device
 * registry and a real engine (no sockets needed: the engine is the gateway's core),
 * and checks what DESIGN.md promises: devices appear with valid descriptions, values
 * arrive as PATCH, reads/writes/actions answer with the right statuses, deadlines give
 * 504, offline gives 502, and stop is clean (no timers or sockets left) and idempotent.
 * No timing assertions: waits are for events, bounded by the test timeout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import { loadProfile } from '../../drivers/profile.js';
import { DeviceRegistry } from '../../gateway/devices/registry.js';
import { bindDeviceResources } from '../../gateway/devices/resources.js';
import { Engine, type EndpointInput, type Incoming } from '../../gateway/jstp/engine.js';
import type { RegularMethod, ResourceElement } from '../../gateway/jstp/dispatch.js';

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
  /** Driver-wide options (the config section named after the driver). */
  options?: Record<string, unknown>;
  subject: ContractSubject;
  /** Switches the simulated device off (power or link lost) or back on. */
  setDeviceOnline(online: boolean): Promise<void>;
  /** Makes the device ignore commands while staying online; without it the deadline tests are skipped. */
  setDeviceUnresponsive?(unresponsive: boolean): Promise<void>;
  /** Stops the simulator and whatever else setup started. */
  close(): Promise<void>;
}

export interface ContractOptions {
  /** The registry's deadline for reads, writes and actions (default 1500 ms). */
  deadlineMs?: number;
}

export interface Answered {
  status: number;
  body: unknown;
}

/** A running driver behind a registry, as the contract sees it. */
export class ContractGateway {
  readonly engine: Engine;
  readonly registry: DeviceRegistry;
  private readonly unbind: () => void;

  constructor(deadlineMs: number, devices: readonly DeviceConfig[] = []) {
    this.engine = new Engine({ answerTimeoutMs: deadlineMs + 10_000 });
    this.registry = new DeviceRegistry({ engine: this.engine, deadlineMs, devices });
    this.unbind = bindDeviceResources(this.engine, this.registry);
  }

  /** Sends a dispatch and returns the first answer. */
  async call(method: RegularMethod, resource: ResourceElement[], body?: unknown): Promise<Answered> {
    const answers = await this.engine.request(method, resource, body).all();
    const first = answers[0];
    if (!first) throw new Error(`no answer to ${method} ${JSON.stringify(resource)}`);
    return { status: first.status, body: first.body };
  }

  /** Resolves with the first matching dispatch's body; binds before anything can race it. */
  next(endpoint: EndpointInput, accept: (body: unknown, incoming: Incoming) => boolean = () => true): Promise<unknown> {
    return new Promise((resolve) => {
      const unbind = this.engine.bind(endpoint, (incoming) => {
        if (!accept(incoming.body, incoming)) return;
        unbind();
        resolve(incoming.body);
      });
    });
  }

  /** Resolves once the registry lists the device with the wanted availability. */
  async waitFor(id: string, online: boolean): Promise<void> {
    const change = this.next({ method: 'PATCH', resource: ['devices', id] }, (body) => (body as { online?: boolean }).online === online);
    const listed = this.registry.list().find((device) => device.id === id);
    if (listed?.online === online) return;
    await change;
  }

  /** Resolves once the device has a value for the property (reported now or before). */
  async waitForValue(id: string, name: string): Promise<void> {
    const patch = this.next({ method: 'PATCH', resource: ['devices', id, 'properties', name] });
    const known = this.registry.list().some((device) => device.id === id) && name in this.registry.values(id);
    if (!known) await patch;
  }

  close(): void {
    this.unbind();
    this.engine.close();
  }
}

type Counts = Record<string, number>;
const WATCHED = ['Timeout', 'TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'TTYWrap', 'FSEvent'];

function activeResources(): Counts {
  const counts: Counts = {};
  for (const type of process.getActiveResourcesInfo()) {
    if (WATCHED.includes(type)) counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

function leaks(baseline: Counts): Counts {
  const now = activeResources();
  const extra: Counts = {};
  for (const [type, count] of Object.entries(now)) {
    if (count > (baseline[type] ?? 0)) extra[type] = count - (baseline[type] ?? 0);
  }
  return extra;
}

/** Polls until nothing is left above the baseline; after `ms`, fails showing what leaked. */
async function expectNoLeaks(baseline: Counts, ms: number): Promise<void> {
  const giveUp = Date.now() + ms;
  let extra = leaks(baseline);
  while (Object.keys(extra).length > 0 && Date.now() < giveUp) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    extra = leaks(baseline);
  }
  expect(extra, 'timers or handles left after stop()').toEqual({});
}

export function describeDriverContract(name: string, setup: () => Promise<DriverHarness>, options: ContractOptions = {}): void {
  const deadlineMs = options.deadlineMs ?? 1500;

  describe(`driver contract: ${name}`, () => {
    let harness: DriverHarness;
    let gateway: ContractGateway;
    let started = false;

    beforeEach(async () => {
      harness = await setup();
      gateway = new ContractGateway(deadlineMs, harness.devices);
      started = false;
    });

    afterEach(async () => {
      if (started) await harness.driver.stop();
      gateway.close();
      await harness.close();
    });

    async function start(): Promise<void> {
      const context = gateway.registry.context(harness.driver.name, harness.devices ?? [], harness.options ?? {});
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

    it('lists the device with a description that is a valid profile', async () => {
      const id = await startOnline();
      const list = await gateway.call('GET', ['devices']);
      expect(list.status).toBe(200);
      expect(list.body).toContainEqual(expect.objectContaining({ id, driver: harness.driver.name, online: true }));
      const details = await gateway.call('GET', ['devices', id]);
      expect(details.status).toBe(200);
      const { id: _id, driver: _driver, online: _online, ...description } = details.body as Record<string, unknown>;
      expect(() => loadProfile(`${name}/${id}`, description)).not.toThrow();
      const properties = (description.properties ?? {}) as Record<string, unknown>;
      expect(Object.keys(properties)).toContain(harness.subject.reported);
    });

    it('turns reported values into PATCH dispatches and serves them on GET', async () => {
      const { reported } = harness.subject;
      const id = harness.subject.id;
      const patch = gateway.next({ method: 'PATCH', resource: ['devices', id, 'properties', reported] });
      await start();
      const body = (await patch) as { value: unknown; at: number };
      expect(body.value).not.toBeUndefined();
      expect(typeof body.at).toBe('number');
      await gateway.waitFor(id, true);
      const read = await gateway.call('GET', ['devices', id, 'properties', reported]);
      expect(read.status).toBe(200);
      expect(read.body).not.toBeUndefined();
    });

    it('answers 404 for an unknown device, property or action', async () => {
      const id = await startOnline();
      expect((await gateway.call('GET', ['devices', 'no-such-device'])).status).toBe(404);
      expect((await gateway.call('GET', ['devices', id, 'properties', 'no-such-property'])).status).toBe(404);
      expect((await gateway.call('PUT', ['devices', id, 'properties', 'no-such-property'], 1)).status).toBe(404);
      expect((await gateway.call('POST', ['devices', id, 'actions', 'no-such-action'], {})).status).toBe(404);
    });

    it('writes a writable property: 200 with the confirmed value, 400 for a bad value, 403 when read-only', async (ctx) => {
      const { writable, readOnly } = harness.subject;
      if (!writable && !readOnly) ctx.skip();
      const id = await startOnline();
      if (writable) {
        const bad = await gateway.call('PUT', ['devices', id, 'properties', writable.name], writable.invalid);
        expect(bad.status).toBe(400);
        const ok = await gateway.call('PUT', ['devices', id, 'properties', writable.name], writable.value);
        expect(ok).toEqual({ status: 200, body: writable.value });
        // The confirmed value is now the property's value.
        const read = await gateway.call('GET', ['devices', id, 'properties', writable.name]);
        expect(read).toEqual({ status: 200, body: writable.value });
      }
      if (readOnly) {
        const denied = await gateway.call('PUT', ['devices', id, 'properties', readOnly], 1);
        expect(denied.status).toBe(403);
      }
    });

    it('invokes an action: 200, and 400 for input that does not fit its schema', async (ctx) => {
      const { action } = harness.subject;
      if (!action) return ctx.skip();
      const id = await startOnline();
      if (action.invalidInput !== undefined) {
        const bad = await gateway.call('POST', ['devices', id, 'actions', action.name], action.invalidInput);
        expect(bad.status).toBe(400);
      }
      const ok = await gateway.call('POST', ['devices', id, 'actions', action.name], action.input);
      expect(ok.status).toBe(200);
    });

    it('reports the device offline (PATCH), answers 502 while it is, and recovers', async () => {
      const id = await startOnline();
      const { writable, action, reported } = harness.subject;
      const offline = gateway.waitFor(id, false);
      await harness.setDeviceOnline(false);
      await offline;
      expect((await gateway.call('GET', ['devices', id, 'properties', reported])).status).toBe(502);
      if (writable) expect((await gateway.call('PUT', ['devices', id, 'properties', writable.name], writable.value)).status).toBe(502);
      if (action) expect((await gateway.call('POST', ['devices', id, 'actions', action.name], action.input)).status).toBe(502);
      const details = await gateway.call('GET', ['devices', id]);
      expect(details.body).toMatchObject({ online: false });
      const online = gateway.waitFor(id, true);
      await harness.setDeviceOnline(true);
      await online;
      await gateway.waitForValue(id, reported);
      expect((await gateway.call('GET', ['devices', id, 'properties', reported])).status).toBe(200);
    });

    it('answers 504 when the device does not answer before the deadline, then works again', async (ctx) => {
      const { writable, action } = harness.subject;
      if (!harness.setDeviceUnresponsive || (!writable && !action)) return ctx.skip();
      const id = await startOnline();
      await harness.setDeviceUnresponsive(true);
      if (writable) expect((await gateway.call('PUT', ['devices', id, 'properties', writable.name], writable.value)).status).toBe(504);
      if (action) expect((await gateway.call('POST', ['devices', id, 'actions', action.name], action.input)).status).toBe(504);
      await harness.setDeviceUnresponsive(false);
      if (writable) expect((await gateway.call('PUT', ['devices', id, 'properties', writable.name], writable.value)).status).toBe(200);
      if (action) expect((await gateway.call('POST', ['devices', id, 'actions', action.name], action.input)).status).toBe(200);
    });

    it('stops cleanly: no timers or sockets left, and a second stop is harmless', async () => {
      const baseline = activeResources();
      await startOnline();
      await harness.driver.stop();
      started = false;
      await harness.driver.stop();
      gateway.registry.removeDriver(harness.driver.name);
      await expectNoLeaks(baseline, 5_000);
    });

    it('can be started again after a stop', async () => {
      await startOnline();
      await harness.driver.stop();
      started = false;
      gateway.registry.removeDriver(harness.driver.name);
      const id = await startOnline();
      expect(gateway.registry.list().map((device) => device.id)).toContain(id);
    });
  });
}

/**
 * A driver behind the real device registry and a real engine, as the contract suite
 * (and any test of a driver) sees it: no sockets, since the engine is the gateway's
 * core. Requests go through the same resources the gateway binds.
 */
import type { DeviceConfig } from '../drivers/driver.js';
import { DeviceRegistry } from '../gateway/devices/registry.js';
import { bindDeviceResources } from '../gateway/devices/resources.js';
import type { RegularMethod, ResourceElement } from '../gateway/jstp/dispatch.js';
import { Engine, type EndpointInput, type Incoming } from '../gateway/jstp/engine.js';

export interface Answered {
  status: number;
  body: unknown;
}

export class ContractGateway {
  readonly engine: Engine;
  readonly registry: DeviceRegistry;
  private readonly unbind: () => void;

  /** `deadlineMs`: how long a read, write or action may take before 504. */
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

/**
 * Test plumbing for the BLE driver: the real device registry and engine (as the
 * contract suite uses them), a simulated coffee maker on a simulated radio, and a
 * recorder of the dispatches the gateway emits. Waits are for events only.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { DeviceConfig } from '../../drivers/driver.js';
import { createBleDriver, type BleDriverOptions } from '../../drivers/ble/index.js';
import type { Driver } from '../../drivers/driver.js';
import type { EndpointInput, Incoming } from '../../gateway/jstp/engine.js';
import { createSimulatedCoffeeMaker, type SimulatedCoffeeMaker, type SimulatedCoffeeMakerOptions } from '../../firmware-sim/coffee-maker/index.js';
import { ContractGateway } from '../../testing/index.js';

export const COFFEE: DeviceConfig = { id: 'coffee', driver: 'ble', profile: 'coffee-maker', name: 'Cafetera' };

/** Fast reconnects and generous GATT timeouts: nothing here waits on wall-clock time to pass. */
export const FAST: BleDriverOptions = { connectTimeoutMs: 2_000, operationTimeoutMs: 5_000, reconnect: { initialMs: 10, maxMs: 100 } };

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines tests can read. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export interface Recorded {
  method: string;
  resource: readonly (string | number)[];
  body: unknown;
}

/** Every dispatch matching `endpoint`, in order, and a way to wait for one that fits. */
export class Recorder {
  readonly seen: Recorded[] = [];
  private waiters: { accept: (entry: Recorded) => boolean; resolve: (entry: Recorded) => void }[] = [];
  private readonly unbinds: (() => void)[];

  /** Only endpoints of dispatches nobody waits on: a recorder never answers. */
  constructor(gateway: ContractGateway, endpoints: readonly EndpointInput[]) {
    const record = (incoming: Incoming): void => {
      const entry = { method: incoming.method, resource: incoming.resource, body: incoming.body };
      this.seen.push(entry);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.accept(entry)) return true;
        waiter.resolve(entry);
        return false;
      });
    };
    this.unbinds = endpoints.map((endpoint) => gateway.engine.bind(endpoint, record));
  }

  unbind(): void {
    for (const unbind of this.unbinds) unbind();
  }

  /** The first entry (seen already, or to come) that `accept` takes. */
  until(accept: (entry: Recorded) => boolean): Promise<Recorded> {
    const seen = this.seen.find(accept);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ accept, resolve }));
  }

  /** Like `until`, but only entries after the `from`-th. */
  after(from: number, accept: (entry: Recorded) => boolean): Promise<Recorded> {
    const seen = this.seen.slice(from).find(accept);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ accept: (entry) => this.seen.indexOf(entry) >= from && accept(entry), resolve }));
  }
}

export const isProperty =
  (name: string, value?: unknown) =>
  (entry: Recorded): boolean =>
    entry.method === 'PATCH' && entry.resource[2] === 'properties' && entry.resource[3] === name && (value === undefined || (entry.body as { value: unknown }).value === value);

export const isOnline =
  (online: boolean) =>
  (entry: Recorded): boolean =>
    entry.method === 'PATCH' && entry.resource.length === 2 && (entry.body as { online: boolean }).online === online;

export const isEvent =
  (name: string) =>
  (entry: Recorded): boolean =>
    entry.method === 'POST' && entry.resource[2] === 'events' && entry.resource[3] === name;

export interface BleBench {
  coffee: SimulatedCoffeeMaker;
  gateway: ContractGateway;
  driver: Driver;
  /** Every PATCH and event POST under `devices`. */
  recorder: Recorder;
  logs: LogLine[];
  close(): Promise<void>;
}

/** A coffee maker (and whatever `extra` adds to its radio) behind the BLE driver, the registry and an engine. */
export async function startBench(
  options: {
    coffee?: SimulatedCoffeeMakerOptions;
    devices?: DeviceConfig[];
    driver?: BleDriverOptions;
    deadlineMs?: number;
    extra?: (coffee: SimulatedCoffeeMaker) => void;
  } = {},
): Promise<BleBench> {
  const coffee = createSimulatedCoffeeMaker({ speed: 40, ...options.coffee });
  options.extra?.(coffee);
  const devices = options.devices ?? [COFFEE];
  const gateway = new ContractGateway(options.deadlineMs ?? 8_000, devices);
  const recorder = new Recorder(gateway, [
    { method: 'PATCH', resource: ['devices', '...'] },
    { method: 'POST', resource: ['devices', '*', 'events', '*'] },
  ]);
  const { logger, lines } = captureLogger();
  const driver = createBleDriver({ bindings: coffee.radio, ...FAST, ...options.driver });
  await driver.start(gateway.registry.context('ble', devices, {}, logger));
  return {
    coffee,
    gateway,
    driver,
    recorder,
    logs: lines,
    async close() {
      await driver.stop();
      gateway.registry.removeDriver('ble');
      recorder.unbind();
      gateway.close();
      coffee.stop();
    },
  };
}

/**
 * One BLE device as the gateway sees it: its connection (connect with a timeout,
 * discover, subscribe, read the initial values), its GATT queue, and its handlers for
 * reads, writes and actions. Notifications become reported properties and events.
 * After a disconnect it goes offline and reconnects with backoff, subscribing again
 * (a new connection starts with no subscriptions). A device with no profile gets the
 * generic view once its characteristics are known, unless it serves the JSTP service:
 * then it speaks JSTP itself (jstp-gatt.ts) and describes itself.
 */
import { DEFAULT_ATT_MTU, JSTP_GATT_CHARACTERISTIC, JSTP_GATT_SERVICE } from '../../gateway/jstp/codec/ble-frames.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import { Backoff, type BackoffOptions } from '../../gateway/jstp/backoff.js';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import type { DeviceDescription, DeviceHandle, DeviceHandlers, DriverContext } from '../driver.js';
import { genericView, type Discovered } from './generic-gatt.js';
import { refKey, type ActionBinding, type EventBinding, type GattProfile, type GattRef, type PropertyBinding } from './gatt-profile.js';
import * as gatt from './gatt-ops.js';
import { GattQueue } from './gatt-queue.js';
import { JSTP_LINK_PROPERTY, JstpGattSession } from './jstp-gatt.js';
import type { NobleCharacteristic, NoblePeripheral } from './noble-types.js';

export interface Timing {
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  reconnect: BackoffOptions;
}

export interface BleDeviceOptions {
  key: string;
  id?: string;
  title?: string;
  profile: GattProfile | undefined;
  context: DriverContext;
  logger: Logger;
  timing: Timing;
}

/** The current connection: gone as a whole when the link drops. */
interface Link {
  readonly queue: GattQueue;
  readonly characteristics: Map<string, NobleCharacteristic>;
  readonly cleanups: (() => void)[];
  /** Set when the device speaks JSTP over its JSTP characteristic. */
  jstp?: JstpGattSession;
}

const JSTP_KEY = refKey({ service: JSTP_GATT_SERVICE, characteristic: JSTP_GATT_CHARACTERISTIC });
const LINK = 'link';

const RSSI = 'rssi';
const RSSI_SPEC = { type: 'integer', unit: 'dBm', title: 'Signal strength', observable: false } as const;

function offline(what: string): PasarelaError {
  return errors.deviceOffline(what);
}

function notSupported(what: string): PasarelaError {
  return errors.notSupported(what);
}

function has(characteristic: NobleCharacteristic, property: string): boolean {
  return (characteristic.properties as readonly string[]).includes(property);
}

function withRssi(description: DeviceDescription): DeviceDescription {
  if (description.properties?.[RSSI]) return description;
  return { ...description, properties: { ...description.properties, [RSSI]: RSSI_SPEC } };
}

export class BleDevice {
  readonly handle: DeviceHandle;
  private readonly options: BleDeviceOptions;
  private readonly logger: Logger;
  private properties: ReadonlyMap<string, PropertyBinding>;
  private readonly actions: ReadonlyMap<string, ActionBinding>;
  private readonly events: ReadonlyMap<string, EventBinding>;
  private peripheral: NoblePeripheral | undefined;
  private link: Link | undefined;
  private connecting: AbortController | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private stopped = false;
  private readonly onDisconnect = (reason: unknown): void => this.lost(`disconnected (reason ${String(reason)})`);

  constructor(options: BleDeviceOptions) {
    this.options = options;
    this.logger = options.logger;
    this.backoff = new Backoff(options.timing.reconnect, { where: 'ble.reconnect' });
    const profile = options.profile;
    this.properties = profile?.properties ?? new Map();
    this.actions = profile?.actions ?? new Map();
    this.events = profile?.events ?? new Map();
    const description = profile ? { ...profile.description } : { model: 'generic-gatt', properties: {} };
    const title = options.title ?? description.title;
    this.handle = options.context.addDevice(
      { key: options.key, ...(options.id === undefined ? {} : { id: options.id }), ...withRssi({ ...description, ...(title === undefined ? {} : { title }) }) },
      this.handlers(),
    );
  }

  get attached(): boolean {
    return this.peripheral !== undefined;
  }

  /** The peripheral was found: connect to it, now and after every disconnect. */
  attach(peripheral: NoblePeripheral): void {
    if (this.stopped || this.peripheral) return;
    this.peripheral = peripheral;
    peripheral.on('disconnect', this.onDisconnect);
    this.handle.reportProperty(RSSI, peripheral.rssi);
    void this.connect();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.connecting?.abort(offline('the driver stopped'));
    const peripheral = this.peripheral;
    const wasConnected = this.link !== undefined;
    this.dropLink(offline('the driver stopped'));
    if (!peripheral) return;
    if (wasConnected && peripheral.state === 'connected') {
      // Hang up politely, but do not wait on a radio that does not answer.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1_000);
        function done(): void {
          clearTimeout(timer);
          peripheral!.off('disconnect', done);
          resolve();
        }
        peripheral.on('disconnect', done);
        try {
          peripheral.disconnect();
        } catch {
          done();
        }
      });
    }
    peripheral.off('disconnect', this.onDisconnect);
  }

  // ---- connection ------------------------------------------------------------------------

  private async connect(): Promise<void> {
    const peripheral = this.peripheral;
    if (this.stopped || !peripheral || this.link || this.connecting) return;
    const controller = new AbortController();
    this.connecting = controller;
    const timer = setTimeout(
      () => controller.abort(offline(`no connection within ${this.options.timing.connectTimeoutMs} ms`)),
      this.options.timing.connectTimeoutMs,
    );
    try {
      await gatt.connect(peripheral, controller.signal);
    } catch (error) {
      this.logger.info({ err: error, attempt: this.backoff.attempts }, 'BLE connect failed');
      this.scheduleReconnect();
      return;
    } finally {
      clearTimeout(timer);
      this.connecting = undefined;
    }
    if (this.stopped) return;
    const link: Link = {
      queue: new GattQueue({
        timeoutMs: this.options.timing.operationTimeoutMs,
        onTimeout: (label) => this.hangUp(link, `GATT ${label} timed out`),
      }),
      characteristics: new Map(),
      cleanups: [],
    };
    this.link = link;
    try {
      await this.setUp(peripheral, link);
    } catch (error) {
      if (this.link !== link) return; // the link dropped meanwhile; that path reconnects
      this.logger.warn({ err: error }, 'BLE set-up failed');
      this.hangUp(link, 'set-up failed');
      return;
    }
    if (this.link !== link) return;
    this.backoff.succeeded();
    this.logger.info({ mtu: peripheral.mtu, characteristics: link.characteristics.size }, 'BLE device connected');
    this.handle.setOnline(true);
  }

  private async setUp(peripheral: NoblePeripheral, link: Link): Promise<void> {
    const { queue } = link;
    const discovered: Discovered[] = [];
    const services = await queue.run('discover services', (signal) => gatt.discoverServices(peripheral, signal));
    for (const service of services) {
      const characteristics = await queue.run(`discover characteristics of ${service.uuid}`, (signal) => gatt.discoverCharacteristics(service, signal));
      for (const characteristic of characteristics) {
        link.characteristics.set(refKey({ service: service.uuid, characteristic: characteristic.uuid }), characteristic);
        discovered.push({ service: service.uuid, characteristic });
      }
    }
    if (!this.options.profile) {
      const jstp = link.characteristics.get(JSTP_KEY);
      if (jstp) {
        await this.startJstp(link, jstp);
        return;
      }
      const view = genericView(discovered, this.options.title);
      this.properties = view.properties;
      this.handle.describe(withRssi(view.description));
    } else {
      this.warnMissing(link);
    }

    // Subscribe first, read after: a change in between is then never lost.
    const notified = new Set<string>([...this.properties.values(), ...this.events.values()].map(refKey));
    for (const key of notified) {
      const characteristic = link.characteristics.get(key);
      if (!characteristic || !(has(characteristic, 'notify') || has(characteristic, 'indicate'))) continue;
      const listener = (data: Buffer, isNotification: boolean): void => {
        if (isNotification && this.link === link) this.notified(key, data);
      };
      characteristic.on('data', listener);
      link.cleanups.push(() => characteristic.off('data', listener));
      await queue.run(`subscribe ${key}`, (signal) => gatt.subscribe(characteristic, signal));
    }
    for (const binding of this.properties.values()) {
      const characteristic = link.characteristics.get(refKey(binding));
      if (!characteristic || !has(characteristic, 'read')) continue;
      const raw = await queue.run(`read ${binding.name}`, (signal) => gatt.read(characteristic, signal));
      this.report(binding, raw);
    }
  }

  /** The device speaks JSTP: subscribe to its characteristic, then learn what it is from itself. */
  private async startJstp(link: Link, characteristic: NobleCharacteristic): Promise<void> {
    let greeted = false;
    const session = new JstpGattSession({
      characteristic,
      queue: link.queue,
      mtu: () => this.peripheral?.mtu ?? null,
      name: this.options.id ?? this.options.key,
      logger: this.logger,
      commandTimeoutMs: this.options.timing.operationTimeoutMs,
      listener: {
        property: (name, value) => this.handle.reportProperty(name, value),
        event: (name, data) => this.handle.reportEvent(name, data),
        announced: () => {
          // Announced after the hello: it restarted while connected. Learn it again.
          if (greeted && this.link === link) {
            this.greetJstp(link, session).catch((error: unknown) => this.logger.warn({ err: error }, 'the JSTP device restarted and did not say hello'));
          }
        },
        countersChanged: () => this.jstpCountersChanged(link),
      },
    });
    link.jstp = session;
    link.cleanups.push(() => session.close());
    const listener = (data: Buffer, isNotification: boolean): void => {
      if (isNotification && this.link === link) session.receive(data);
    };
    characteristic.on('data', listener);
    link.cleanups.push(() => characteristic.off('data', listener));
    await link.queue.run('subscribe JSTP', (signal) => gatt.subscribe(characteristic, signal));
    await this.greetJstp(link, session);
    greeted = true;
  }

  private async greetJstp(link: Link, session: JstpGattSession): Promise<void> {
    const hello = await session.hello();
    if (this.link !== link) return;
    const title = this.options.title ?? hello.description.title;
    const description = withRssi({ ...hello.description, ...(title === undefined ? {} : { title }) });
    this.handle.describe({ ...description, properties: { ...description.properties, [LINK]: JSTP_LINK_PROPERTY } });
    for (const [name, value] of Object.entries(hello.values)) this.handle.reportProperty(name, value);
  }

  private jstpCountersDue = false;

  private jstpCountersChanged(link: Link): void {
    if (this.jstpCountersDue) return;
    this.jstpCountersDue = true;
    // Losses come in bursts: one PATCH per burst is enough.
    queueMicrotask(() => {
      this.jstpCountersDue = false;
      if (this.link === link && link.jstp) this.handle.reportProperty(LINK, link.jstp.counters());
    });
  }

  private warnMissing(link: Link): void {
    const bindings: GattRef[] = [...this.properties.values(), ...this.actions.values(), ...this.events.values()];
    const missing = [...new Set(bindings.map(refKey).filter((key) => !link.characteristics.has(key)))];
    if (missing.length > 0) this.logger.warn({ missing, profile: this.options.profile?.name }, 'the device lacks characteristics its profile names');
  }

  private notified(key: string, data: Buffer): void {
    for (const binding of this.properties.values()) {
      if (refKey(binding) === key) this.report(binding, data);
    }
    for (const binding of this.events.values()) {
      if (refKey(binding) !== key) continue;
      try {
        const fired = binding.fire(data);
        if (fired) this.handle.reportEvent(binding.name, fired.data);
      } catch (error) {
        this.logger.warn({ err: error, event: binding.name }, 'cannot decode a notification');
      }
    }
  }

  private report(binding: PropertyBinding, raw: Uint8Array): void {
    try {
      this.handle.reportProperty(binding.name, binding.codec.decode(raw));
    } catch (error) {
      this.logger.warn({ err: error, property: binding.name }, 'cannot decode a value from the device');
    }
  }

  /** The link is not usable (a GATT timeout, a failed set-up): drop it and ask the radio to hang up. */
  private hangUp(link: Link, why: string): void {
    if (this.link !== link) return;
    this.lost(why);
    try {
      this.peripheral?.disconnect();
    } catch (error) {
      this.logger.debug({ err: error }, 'disconnect failed');
    }
  }

  private lost(why: string): void {
    if (this.stopped) return;
    if (this.link) {
      this.logger.info({ why }, 'BLE device offline');
      this.dropLink(offline(`the device went offline: ${why}`));
    }
    this.scheduleReconnect();
  }

  private dropLink(error: PasarelaError): void {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    link.queue.close(error);
    for (const cleanup of link.cleanups) cleanup();
    this.handle.setOnline(false);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer || this.connecting || this.link) return;
    // Jittered, so devices that dropped together do not retry together.
    const delay = this.backoff.next();
    this.logger.debug({ delay, attempt: this.backoff.attempts }, 'BLE reconnect scheduled');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  // ---- the gateway's calls -------------------------------------------------------------

  private handlers(): DeviceHandlers {
    return {
      readProperty: (name, signal) => this.readProperty(name, signal),
      writeProperty: (name, value, signal) => this.writeProperty(name, value, signal),
      invokeAction: (name, input, signal) => this.invokeAction(name, input, signal),
    };
  }

  private currentLink(): Link {
    if (!this.link) throw offline(`device "${this.handle.id}" is not connected`);
    return this.link;
  }

  private characteristic(link: Link, ref: GattRef, what: string): NobleCharacteristic {
    const characteristic = link.characteristics.get(refKey(ref));
    if (!characteristic) throw notSupported(`${what}: the device has no characteristic ${ref.characteristic} in service ${ref.service}`);
    return characteristic;
  }

  private async readProperty(name: string, signal: AbortSignal): Promise<unknown> {
    const link = this.currentLink();
    if (link.jstp && name !== RSSI) return name === LINK ? link.jstp.counters() : link.jstp.read(name, signal);
    if (name === RSSI && !this.properties.has(RSSI)) {
      const peripheral = this.peripheral!;
      return link.queue.run('read RSSI', (opSignal) => gatt.updateRssi(peripheral, opSignal), { signal });
    }
    const binding = this.properties.get(name);
    if (!binding) throw notSupported(`no property "${name}"`);
    const characteristic = this.characteristic(link, binding, name);
    if (!has(characteristic, 'read')) throw notSupported(`"${name}" cannot be read, only notified`);
    const raw = await link.queue.run(`read ${name}`, (opSignal) => gatt.read(characteristic, opSignal), { signal });
    return binding.codec.decode(raw);
  }

  private async writeProperty(name: string, value: unknown, signal: AbortSignal): Promise<unknown> {
    const link = this.currentLink();
    if (link.jstp) return link.jstp.writeProperty(name, value, signal);
    const binding = this.properties.get(name);
    if (!binding?.codec.encode) throw notSupported(`"${name}" cannot be written`);
    const characteristic = this.characteristic(link, binding, name);
    const bytes = binding.codec.encode(value) as Uint8Array;
    await this.write(link, characteristic, bytes, `write ${name}`, signal);
    // What the device now holds, e.g. 21.555 written at a 0.01 scale is 21.56.
    return binding.codec.decode(bytes);
  }

  private async invokeAction(name: string, input: unknown, signal: AbortSignal): Promise<unknown> {
    const link = this.currentLink();
    if (link.jstp) return link.jstp.invoke(name, input, signal);
    const binding = this.actions.get(name);
    if (!binding) throw notSupported(`no action "${name}"`);
    const characteristic = this.characteristic(link, binding, name);
    const bytes = binding.encode(input ?? {});
    const result = binding.result;
    if (!result) {
      await this.write(link, characteristic, bytes, `action ${name}`, signal, binding.withoutResponse);
      return null;
    }
    const resultCharacteristic = this.characteristic(link, result, `${name} result`);
    // Write and read back as one queued operation, so nothing else lands in between.
    const raw = await link.queue.run(
      `action ${name}`,
      async (opSignal) => {
        await gatt.write(characteristic, bytes, this.withoutResponse(characteristic, bytes, binding.withoutResponse), opSignal);
        return gatt.read(resultCharacteristic, opSignal);
      },
      { signal },
    );
    return result.codec.decode(raw);
  }

  private write(link: Link, characteristic: NobleCharacteristic, bytes: Uint8Array, label: string, signal: AbortSignal, preferCommand = false): Promise<void> {
    const withoutResponse = this.withoutResponse(characteristic, bytes, preferCommand);
    return link.queue.run(label, (opSignal) => gatt.write(characteristic, bytes, withoutResponse, opSignal), { signal });
  }

  /** A write request when the characteristic takes one (it is confirmed); a command otherwise. */
  private withoutResponse(characteristic: NobleCharacteristic, bytes: Uint8Array, preferCommand: boolean): boolean {
    const request = has(characteristic, 'write');
    const command = has(characteristic, 'writeWithoutResponse');
    if (!request && !command) throw errors.readOnly(`characteristic ${characteristic.uuid} is not writable`);
    const useCommand = command && (preferCommand || !request);
    const mtu = this.peripheral?.mtu ?? DEFAULT_ATT_MTU;
    // A command must fit one packet; a request may be longer (noble then writes it in parts).
    if (useCommand && bytes.length > mtu - 3) {
      throw errors.badValue(`${bytes.length} bytes do not fit one write at MTU ${mtu}`);
    }
    return useCommand;
  }
}

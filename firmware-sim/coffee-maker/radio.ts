/**
 * A simulated Bluetooth adapter behind noble's bindings interface: the object that
 * `@abandonware/noble/with-bindings.js` takes, with the methods noble calls
 * (startScanning, connect, discoverServices, read, write, notify, ...) and the events
 * noble listens to (stateChange, discover, connect, disconnect, servicesDiscover,
 * characteristicsDiscover, read, write, notify, rssiUpdate, onMtu, ...), with the same
 * arguments as lib/hci-socket/bindings.js. So the driver runs on noble's real Noble,
 * Peripheral, Service and Characteristic objects; only the radio is simulated.
 *
 * Like a real link: each connection answers one ATT request at a time, in order, after
 * a small random latency; an ATT error answers nothing that noble reports (its HCI
 * stack drops them), requests on a lost link are never answered, notifications are cut
 * to MTU - 3 bytes and reach only subscribed characteristics, and subscriptions end with
 * the connection. Range, RSSI, MTU, power and disconnects change on demand.
 */
import { EventEmitter } from 'node:events';
import { AttError, nobleUuid, type CharacteristicDefinition, type GattServer } from './gatt-server.js';

/** HCI disconnect reasons noble passes on. */
export const DisconnectReason = {
  ConnectionTimeout: 0x08,
  RemoteUserTerminated: 0x13,
  LocalHostTerminated: 0x16,
} as const;

export interface SimulatedPeripheralOptions {
  /** `aa:bb:cc:dd:ee:ff`; noble's peripheral id is this without colons. */
  address: string;
  addressType?: 'public' | 'random';
  localName?: string;
  /** Service uuids in the advertisement (scan filters match these). */
  serviceUuids?: readonly string[];
  manufacturerData?: Uint8Array;
  txPowerLevel?: number;
  /** dBm (default -60). */
  rssi?: number;
  /** The ATT MTU the exchange settles on (default 23, the minimum). */
  mtu?: number;
  connectable?: boolean;
  gatt: GattServer;
}

export interface PeripheralStats {
  connects: number;
  disconnects: number;
  /** ATT requests the central made (discovery, reads, writes, subscriptions). */
  requests: number;
  /** The most requests ever waiting for an answer at once on one connection. */
  maxOutstanding: number;
  /** Requests the firmware refused (noble reports none of them). */
  attErrors: number;
  notifications: number;
}

export interface RadioOptions {
  /** Real milliseconds before each answer: a fixed number or a random range (default 0-2). */
  latencyMs?: number | { min: number; max: number };
  /** The adapter starts powered on (default true). */
  powered?: boolean;
  /** The adapter's own address. */
  address?: string;
}

interface Connection {
  readonly entry: PeripheralEntry;
  readonly subscriptions: Set<string>;
  readonly requests: (() => void)[];
  readonly notifications: (() => void)[];
  busy: boolean;
  notifying: boolean;
  closed: boolean;
}

interface PeripheralEntry {
  readonly id: string;
  readonly options: SimulatedPeripheralOptions;
  rssi: number;
  mtu: number;
  reachable: boolean;
  connectPending: boolean;
  /** The firmware hangs: ATT requests wait, unanswered, until it recovers. */
  stalled: boolean;
  connection: Connection | undefined;
  readonly stats: PeripheralStats;
  readonly onNotification: (service: string, characteristic: string, value: Uint8Array) => void;
}

const key = (service: string, characteristic: string): string => `${service}/${characteristic}`;
const CCCD = '2902';

function idOf(address: string): string {
  return address.replace(/:/g, '').toLowerCase();
}

function notifiable(characteristic: CharacteristicDefinition): boolean {
  return characteristic.properties.includes('notify') || characteristic.properties.includes('indicate');
}

export class SimulatedRadio extends EventEmitter {
  private readonly peripherals = new Map<string, PeripheralEntry>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly latency: { min: number; max: number };
  private readonly address: string;
  private powered: boolean;
  private scanFilter: readonly string[] | undefined;
  private closed = false;

  constructor(options: RadioOptions = {}) {
    super();
    const latency = options.latencyMs ?? { min: 0, max: 2 };
    this.latency = typeof latency === 'number' ? { min: latency, max: latency } : latency;
    this.powered = options.powered ?? true;
    this.address = options.address ?? '00:00:5e:00:53:01';
  }

  // ---- the simulation's controls -----------------------------------------------------

  /** Puts a peripheral in range; returns noble's id for it. */
  addPeripheral(options: SimulatedPeripheralOptions): string {
    const id = idOf(options.address);
    if (this.peripherals.has(id)) throw new Error(`a peripheral with address ${options.address} already exists`);
    const entry: PeripheralEntry = {
      id,
      options,
      rssi: options.rssi ?? -60,
      mtu: options.mtu ?? 23,
      reachable: true,
      connectPending: false,
      stalled: false,
      connection: undefined,
      stats: { connects: 0, disconnects: 0, requests: 0, maxOutstanding: 0, attErrors: 0, notifications: 0 },
      onNotification: (service, characteristic, value) => this.deliverNotification(entry, service, characteristic, value),
    };
    options.gatt.on('notification', entry.onNotification);
    this.peripherals.set(id, entry);
    this.advertise(entry);
    return id;
  }

  /** Takes a peripheral off the air (a no-op once it is gone, or the radio closed). */
  removePeripheral(address: string): void {
    const entry = this.peripherals.get(idOf(address));
    if (!entry) return;
    if (entry.connection) this.teardown(entry, DisconnectReason.ConnectionTimeout);
    entry.options.gatt.off('notification', entry.onNotification);
    this.peripherals.delete(entry.id);
  }

  /** Out of range: the link drops (supervision timeout) and connects wait until it is back. */
  setReachable(address: string, reachable: boolean): void {
    const entry = this.entry(address);
    entry.reachable = reachable;
    if (!reachable) {
      if (entry.connection) this.teardown(entry, DisconnectReason.ConnectionTimeout);
      return;
    }
    if (entry.connectPending) this.later(() => this.establish(entry));
    else this.advertise(entry);
  }

  /** The peripheral ends the connection (default: remote user terminated). */
  dropConnection(address: string, reason: number = DisconnectReason.RemoteUserTerminated): void {
    const entry = this.entry(address);
    if (entry.connection) this.teardown(entry, reason);
  }

  /** A hung firmware: it stays connected but answers no request until it recovers, then answers them in order. */
  setUnresponsive(address: string, unresponsive: boolean): void {
    const entry = this.entry(address);
    entry.stalled = unresponsive;
    if (!unresponsive && entry.connection) this.pump(entry.connection);
  }

  setRssi(address: string, rssi: number): void {
    this.entry(address).rssi = rssi;
  }

  /** Takes effect at the next connection's MTU exchange. */
  setMtu(address: string, mtu: number): void {
    this.entry(address).mtu = mtu;
  }

  /** Powering off drops every connection, as an adapter reset does. */
  setPowered(on: boolean): void {
    if (this.powered === on) return;
    this.powered = on;
    if (!on) {
      for (const entry of this.peripherals.values()) {
        entry.connectPending = false;
        if (entry.connection) this.teardown(entry, DisconnectReason.LocalHostTerminated);
      }
    }
    this.later(() => this.emit('stateChange', on ? 'poweredOn' : 'poweredOff'));
  }

  isConnected(address: string): boolean {
    return this.entry(address).connection !== undefined;
  }

  /** `service/characteristic` pairs the central subscribed to on the current connection. */
  subscriptions(address: string): string[] {
    return [...(this.entry(address).connection?.subscriptions ?? [])];
  }

  stats(address: string): PeripheralStats {
    return { ...this.entry(address).stats };
  }

  /** Clears every timer and detaches from the firmware. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const entry of this.peripherals.values()) {
      entry.options.gatt.off('notification', entry.onNotification);
      if (entry.connection) entry.connection.closed = true;
    }
    this.peripherals.clear();
  }

  // ---- noble's bindings interface -----------------------------------------------------

  init(): void {
    this.later(() => {
      this.emit('addressChange', this.address);
      this.emit('stateChange', this.powered ? 'poweredOn' : 'poweredOff');
    });
  }

  setScanParameters(): void {
    this.later(() => this.emit('scanParametersSet'));
  }

  startScanning(serviceUuids?: readonly string[], allowDuplicates?: boolean): void {
    this.scanFilter = (serviceUuids ?? []).map(nobleUuid);
    this.later(() => {
      this.emit('scanStart', !allowDuplicates);
      for (const entry of this.peripherals.values()) this.advertise(entry);
    });
  }

  stopScanning(): void {
    this.scanFilter = undefined;
    this.later(() => this.emit('scanStop'));
  }

  connect(peripheralUuid: string): void {
    const entry = this.peripherals.get(peripheralUuid);
    if (!entry || !this.powered) {
      this.later(() => this.emit('connect', peripheralUuid, new Error('Unknown Connection Identifier (0x2)')));
      return;
    }
    if (entry.connection) {
      this.later(() => this.emit('connect', peripheralUuid, new Error('Connection Already Exists (0xb)')));
      return;
    }
    entry.connectPending = true;
    // Out of range, a real LE Create Connection waits until the device advertises again.
    if (entry.reachable) this.later(() => this.establish(entry));
  }

  cancelConnect(peripheralUuid: string): void {
    const entry = this.peripherals.get(peripheralUuid);
    if (entry) entry.connectPending = false;
  }

  disconnect(peripheralUuid: string): void {
    const entry = this.peripherals.get(peripheralUuid);
    if (!entry) return;
    entry.connectPending = false;
    if (entry.connection) {
      const connection = entry.connection;
      this.later(() => {
        if (entry.connection === connection) this.teardown(entry, DisconnectReason.LocalHostTerminated);
      });
    }
  }

  reset(): void {}

  updateRssi(peripheralUuid: string): void {
    const entry = this.peripherals.get(peripheralUuid);
    if (!entry?.connection) return;
    this.later(() => {
      if (entry.connection) this.emit('rssiUpdate', entry.id, entry.rssi);
    });
  }

  discoverServices(peripheralUuid: string, uuids?: readonly string[]): void {
    this.request(peripheralUuid, (entry) => {
      const wanted = (uuids ?? []).map(nobleUuid);
      const found = entry.options.gatt.services.map((service) => service.uuid).filter((uuid) => wanted.length === 0 || wanted.includes(uuid));
      this.emit('servicesDiscover', entry.id, found);
    });
  }

  discoverIncludedServices(peripheralUuid: string, serviceUuid: string): void {
    this.request(peripheralUuid, (entry) => this.emit('includedServicesDiscover', entry.id, serviceUuid, []));
  }

  discoverCharacteristics(peripheralUuid: string, serviceUuid: string, characteristicUuids?: readonly string[]): void {
    this.request(peripheralUuid, (entry) => {
      const wanted = (characteristicUuids ?? []).map(nobleUuid);
      const characteristics = (entry.options.gatt.service(serviceUuid)?.characteristics ?? [])
        .filter((characteristic) => wanted.length === 0 || wanted.includes(characteristic.uuid))
        .map((characteristic) => ({ uuid: characteristic.uuid, properties: [...characteristic.properties] }));
      this.emit('characteristicsDiscover', entry.id, serviceUuid, characteristics);
    });
  }

  read(peripheralUuid: string, serviceUuid: string, characteristicUuid: string): void {
    this.request(peripheralUuid, (entry) => {
      const value = this.readValueOf(entry, serviceUuid, characteristicUuid);
      // On an ATT error noble's HCI stack reports an empty read: so do we.
      this.emit('read', entry.id, serviceUuid, characteristicUuid, value ?? Buffer.alloc(0), false);
    });
  }

  write(peripheralUuid: string, serviceUuid: string, characteristicUuid: string, data: Uint8Array, withoutResponse: boolean): void {
    this.request(peripheralUuid, (entry) => {
      const accepted = this.writeValueOf(entry, serviceUuid, characteristicUuid, data, withoutResponse);
      // A command (without response) is "done" once sent; a refused request gets no event at all.
      if (accepted || withoutResponse) this.emit('write', entry.id, serviceUuid, characteristicUuid);
    });
  }

  broadcast(peripheralUuid: string, serviceUuid: string, characteristicUuid: string, broadcast: boolean): void {
    this.request(peripheralUuid, (entry) => this.emit('broadcast', entry.id, serviceUuid, characteristicUuid, broadcast));
  }

  notify(peripheralUuid: string, serviceUuid: string, characteristicUuid: string, notify: boolean): void {
    this.request(peripheralUuid, (entry, connection) => {
      const characteristic = entry.options.gatt.characteristic(serviceUuid, characteristicUuid);
      if (!characteristic || !notifiable(characteristic)) {
        entry.stats.attErrors += 1;
        return;
      }
      this.setSubscribed(entry, connection, serviceUuid, characteristicUuid, notify);
      this.emit('notify', entry.id, serviceUuid, characteristicUuid, notify);
    });
  }

  discoverDescriptors(peripheralUuid: string, serviceUuid: string, characteristicUuid: string): void {
    this.request(peripheralUuid, (entry) => {
      const characteristic = entry.options.gatt.characteristic(serviceUuid, characteristicUuid);
      const descriptors = characteristic && notifiable(characteristic) ? [CCCD] : [];
      this.emit('descriptorsDiscover', entry.id, serviceUuid, characteristicUuid, descriptors);
    });
  }

  readValue(peripheralUuid: string, serviceUuid: string, characteristicUuid: string, descriptorUuid: string): void {
    this.request(peripheralUuid, (entry, connection) => {
      const on = descriptorUuid === CCCD && connection.subscriptions.has(key(serviceUuid, characteristicUuid));
      this.emit('valueRead', entry.id, serviceUuid, characteristicUuid, descriptorUuid, Buffer.from([on ? 1 : 0, 0]));
    });
  }

  writeValue(peripheralUuid: string, serviceUuid: string, characteristicUuid: string, descriptorUuid: string, data: Uint8Array): void {
    this.request(peripheralUuid, (entry, connection) => {
      if (descriptorUuid === CCCD) this.setSubscribed(entry, connection, serviceUuid, characteristicUuid, ((data[0] ?? 0) & 0b11) !== 0);
      this.emit('valueWrite', entry.id, serviceUuid, characteristicUuid, descriptorUuid);
    });
  }

  readHandle(peripheralUuid: string, handle: number): void {
    this.request(peripheralUuid, (entry) => {
      const found = this.byHandle(entry, handle);
      const value = found ? this.readValueOf(entry, found.service, found.characteristic) : undefined;
      this.emit('handleRead', entry.id, handle, value ?? Buffer.alloc(0));
    });
  }

  writeHandle(peripheralUuid: string, handle: number, data: Uint8Array, withoutResponse: boolean): void {
    this.request(peripheralUuid, (entry) => {
      const found = this.byHandle(entry, handle);
      const accepted = found !== undefined && this.writeValueOf(entry, found.service, found.characteristic, data, withoutResponse);
      if (accepted || withoutResponse) this.emit('handleWrite', entry.id, handle);
    });
  }

  // ---- the link --------------------------------------------------------------------------

  private entry(address: string): PeripheralEntry {
    const entry = this.peripherals.get(idOf(address));
    if (!entry) throw new Error(`no simulated peripheral with address ${address}`);
    return entry;
  }

  private later(fn: () => void): void {
    if (this.closed) return;
    const { min, max } = this.latency;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, min + Math.random() * (max - min));
    this.timers.add(timer);
  }

  private advertise(entry: PeripheralEntry): void {
    const filter = this.scanFilter;
    if (filter === undefined || !this.powered || !entry.reachable || entry.connection) return;
    const options = entry.options;
    const advertised = (options.serviceUuids ?? []).map(nobleUuid);
    if (filter.length > 0 && !advertised.some((uuid) => filter.includes(uuid))) return;
    const advertisement = {
      localName: options.localName,
      txPowerLevel: options.txPowerLevel,
      manufacturerData: options.manufacturerData ? Buffer.from(options.manufacturerData) : undefined,
      serviceData: [],
      serviceUuids: advertised,
      solicitationServiceUuids: [],
      serviceSolicitationUuids: [],
    };
    this.later(() => {
      if (this.scanFilter === undefined || entry.connection) return;
      this.emit('discover', entry.id, options.address.toLowerCase(), options.addressType ?? 'public', options.connectable ?? true, advertisement, entry.rssi, false);
    });
  }

  private establish(entry: PeripheralEntry): void {
    if (!entry.connectPending || !entry.reachable || !this.powered || entry.connection) return;
    entry.connectPending = false;
    const connection: Connection = { entry, subscriptions: new Set(), requests: [], notifications: [], busy: false, notifying: false, closed: false };
    entry.connection = connection;
    entry.stats.connects += 1;
    this.emit('connect', entry.id, null);
    // The stack exchanges the MTU right after connecting, as noble's HCI stack does.
    this.later(() => {
      if (entry.connection === connection) this.emit('onMtu', entry.id, entry.mtu);
    });
  }

  private teardown(entry: PeripheralEntry, reason: number): void {
    const connection = entry.connection;
    if (!connection) return;
    for (const subscription of [...connection.subscriptions]) {
      const [service, characteristic] = subscription.split('/') as [string, string];
      this.setSubscribed(entry, connection, service, characteristic, false);
    }
    connection.closed = true;
    connection.requests.length = 0;
    connection.notifications.length = 0;
    entry.connection = undefined;
    entry.stats.disconnects += 1;
    this.emit('disconnect', entry.id, reason);
    this.advertise(entry);
  }

  /** Records a (un)subscription and tells the firmware when it changes. */
  private setSubscribed(entry: PeripheralEntry, connection: Connection, service: string, characteristic: string, on: boolean): void {
    const id = key(service, characteristic);
    if (connection.subscriptions.has(id) === on) return;
    if (on) connection.subscriptions.add(id);
    else connection.subscriptions.delete(id);
    entry.options.gatt.characteristic(service, characteristic)?.subscribed?.(on, entry.mtu);
  }

  /** One ATT request: queued on the connection, answered in order, one at a time. */
  private request(peripheralUuid: string, answer: (entry: PeripheralEntry, connection: Connection) => void): void {
    const entry = this.peripherals.get(peripheralUuid);
    const connection = entry?.connection;
    // noble's HCI bindings throw too when asked for GATT on a peripheral with no link.
    if (!entry || !connection) throw new Error(`peripheral ${peripheralUuid} is not connected`);
    connection.requests.push(() => answer(entry, connection));
    entry.stats.requests += 1;
    const outstanding = connection.requests.length + (connection.busy ? 1 : 0);
    entry.stats.maxOutstanding = Math.max(entry.stats.maxOutstanding, outstanding);
    this.pump(connection);
  }

  private pump(connection: Connection): void {
    if (connection.busy || connection.closed || connection.entry.stalled) return;
    const next = connection.requests.shift();
    if (!next) return;
    connection.busy = true;
    this.later(() => {
      if (connection.closed) return;
      if (connection.entry.stalled) {
        // Hung while this request was on the air: it waits with the others.
        connection.requests.unshift(next);
        connection.busy = false;
        return;
      }
      // Free the bearer before answering: the central may send its next request from the answer's handler.
      connection.busy = false;
      next();
      this.pump(connection);
    });
  }

  private readValueOf(entry: PeripheralEntry, service: string, characteristic: string): Buffer | undefined {
    const definition = entry.options.gatt.characteristic(service, characteristic);
    if (!definition?.read || !definition.properties.includes('read')) {
      entry.stats.attErrors += 1;
      return undefined;
    }
    try {
      return Buffer.from(definition.read());
    } catch (error) {
      if (!(error instanceof AttError)) throw error;
      entry.stats.attErrors += 1;
      return undefined;
    }
  }

  private writeValueOf(entry: PeripheralEntry, service: string, characteristic: string, data: Uint8Array, withoutResponse: boolean): boolean {
    const definition = entry.options.gatt.characteristic(service, characteristic);
    const allowed = definition?.properties.includes(withoutResponse ? 'writeWithoutResponse' : 'write') ?? false;
    // A command longer than MTU - 3 does not fit one packet (a request would be a long write).
    if (!definition?.write || !allowed || (withoutResponse && data.length > entry.mtu - 3)) {
      entry.stats.attErrors += 1;
      return false;
    }
    try {
      definition.write(Uint8Array.from(data), withoutResponse);
      return true;
    } catch (error) {
      if (!(error instanceof AttError)) throw error;
      entry.stats.attErrors += 1;
      return false;
    }
  }

  private byHandle(entry: PeripheralEntry, handle: number): { service: string; characteristic: string } | undefined {
    // Handles as a GATT server lays them out: service, then per characteristic its declaration, value and CCCD.
    let next = 1;
    for (const service of entry.options.gatt.services) {
      next += 1;
      for (const characteristic of service.characteristics) {
        const valueHandle = next + 1;
        next += notifiable(characteristic) ? 3 : 2;
        if (valueHandle === handle) return { service: service.uuid, characteristic: characteristic.uuid };
      }
    }
    return undefined;
  }

  private deliverNotification(entry: PeripheralEntry, service: string, characteristic: string, value: Uint8Array): void {
    const connection = entry.connection;
    if (!connection || !connection.subscriptions.has(key(service, characteristic))) return;
    const payload = Buffer.from(value.subarray(0, entry.mtu - 3));
    connection.notifications.push(() => {
      entry.stats.notifications += 1;
      this.emit('read', entry.id, service, characteristic, payload, true);
    });
    this.pumpNotifications(connection);
  }

  // Notifications keep their order among themselves, like packets on one link.
  private pumpNotifications(connection: Connection): void {
    if (connection.notifying || connection.closed) return;
    const next = connection.notifications.shift();
    if (!next) return;
    connection.notifying = true;
    this.later(() => {
      if (connection.closed) return;
      connection.notifying = false;
      next();
      this.pumpNotifications(connection);
    });
  }
}

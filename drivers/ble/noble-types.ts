/**
 * The parts of noble's API the driver uses, typed: noble ships typings only for its
 * default export, and `with-bindings.js` returns the same Noble class. Everything
 * here is noble's own object model (lib/noble.js, peripheral.js, service.js,
 * characteristic.js); the driver never reaches below it.
 */
import type { EventEmitter } from 'node:events';

export type NobleState = 'unknown' | 'resetting' | 'unsupported' | 'unauthorized' | 'poweredOff' | 'poweredOn';

export type CharacteristicProperty =
  | 'broadcast'
  | 'read'
  | 'writeWithoutResponse'
  | 'write'
  | 'notify'
  | 'indicate'
  | 'authenticatedSignedWrites'
  | 'extendedProperties';

export interface NobleCharacteristic extends EventEmitter {
  readonly uuid: string;
  /** From noble's table of assigned numbers, e.g. `Battery Level`; null for custom uuids. */
  readonly name: string | null;
  readonly properties: readonly CharacteristicProperty[];
  read(): void;
  write(data: Buffer, withoutResponse: boolean): void;
  subscribe(): void;
  unsubscribe(): void;
}

export interface NobleService extends EventEmitter {
  readonly uuid: string;
  readonly name: string | null;
  characteristics: NobleCharacteristic[] | null;
  discoverCharacteristics(uuids: string[]): void;
}

export interface NobleAdvertisement {
  localName?: string;
  serviceUuids?: string[];
  txPowerLevel?: number;
  manufacturerData?: Buffer;
}

export interface NoblePeripheral extends EventEmitter {
  readonly id: string;
  readonly address: string;
  readonly advertisement: NobleAdvertisement;
  rssi: number;
  mtu: number | null;
  state: 'error' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';
  services: NobleService[] | null;
  connect(): void;
  cancelConnect(): void;
  disconnect(): void;
  updateRssi(): void;
  discoverServices(uuids: string[]): void;
}

export interface Noble extends EventEmitter {
  /** Reading `state` before this is true starts the bindings (noble initialises lazily). */
  readonly initialized: boolean;
  readonly state: NobleState;
  startScanning(serviceUuids: string[], allowDuplicates: boolean): void;
  stopScanning(): void;
}

/**
 * noble's bindings interface (what lib/hci-socket/bindings.js implements): an event
 * emitter whose methods noble calls. Typed loosely: noble checks it, not us.
 */
export interface NobleBindings extends EventEmitter {
  init(): void;
  startScanning(serviceUuids?: readonly string[], allowDuplicates?: boolean): void;
  stopScanning(): void;
  connect(peripheralUuid: string, parameters?: unknown): void;
  disconnect(peripheralUuid: string): void;
}

/**
 * A GATT database on the peripheral's side: the services and characteristics a
 * simulated device serves, with the firmware's read and write handlers. The radio
 * (radio.ts) carries it over noble's bindings interface; the firmware calls `notify`
 * when a value changes and the radio delivers it to subscribed centrals.
 */
import { EventEmitter } from 'node:events';

/** GATT characteristic properties, spelled as noble spells them. */
export type CharacteristicProperty = 'broadcast' | 'read' | 'writeWithoutResponse' | 'write' | 'notify' | 'indicate';

/** The firmware refused an ATT request (codes 0x80-0x9F are the application's own). */
export class AttError extends Error {
  readonly attCode: number;
  constructor(attCode: number, message: string) {
    super(message);
    this.name = 'AttError';
    this.attCode = attCode;
  }
}

export const ATT_WRITE_NOT_PERMITTED = 0x03;
export const ATT_READ_NOT_PERMITTED = 0x02;
export const ATT_INVALID_LENGTH = 0x0d;

export interface CharacteristicDefinition {
  /** noble's form: lower-case hex without dashes (`2a19`, or 32 digits). */
  readonly uuid: string;
  readonly properties: readonly CharacteristicProperty[];
  /** The current value; required when `properties` has `read`. */
  read?(): Uint8Array;
  /** Handles a write; throw an AttError to refuse it. */
  write?(value: Uint8Array, withoutResponse: boolean): void;
  /**
   * A central subscribed to notifications (`on`), or stopped, or its connection went;
   * `mtu` is the connection's ATT MTU (a notification carries MTU - 3 bytes).
   */
  subscribed?(on: boolean, mtu: number): void;
}

export interface ServiceDefinition {
  readonly uuid: string;
  readonly characteristics: readonly CharacteristicDefinition[];
}

/** lower-case, no dashes: the form noble uses for every uuid. */
export function nobleUuid(uuid: string): string {
  return uuid.replace(/-/g, '').toLowerCase();
}

export class GattServer extends EventEmitter<{ notification: [service: string, characteristic: string, value: Uint8Array] }> {
  readonly services: readonly ServiceDefinition[];

  constructor(services: readonly ServiceDefinition[]) {
    super();
    this.services = services.map((service) => ({
      uuid: nobleUuid(service.uuid),
      characteristics: service.characteristics.map((characteristic) => ({ ...characteristic, uuid: nobleUuid(characteristic.uuid) })),
    }));
  }

  service(uuid: string): ServiceDefinition | undefined {
    return this.services.find((service) => service.uuid === uuid);
  }

  characteristic(service: string, characteristic: string): CharacteristicDefinition | undefined {
    return this.service(service)?.characteristics.find((candidate) => candidate.uuid === characteristic);
  }

  /** The firmware announces a new value; the radio sends it to subscribers. */
  notify(service: string, characteristic: string, value: Uint8Array): void {
    this.emit('notification', nobleUuid(service), nobleUuid(characteristic), value);
  }
}

/**
 * The view of a device with no profile: every characteristic becomes a property whose
 * value is its raw bytes in hex, readable where the characteristic allows reads,
 * writable where it allows writes, and reported on notification where it notifies.
 * Named by characteristic uuid (`2a19`), with the service in front when two services
 * share one (`180f-2a19`).
 */
import type { DeviceDescription, PropertySpec } from '../driver.js';
import { hex } from './codecs.js';
import type { PropertyBinding } from './gatt-profile.js';
import type { NobleCharacteristic } from './noble-types.js';

export interface Discovered {
  readonly service: string;
  readonly characteristic: NobleCharacteristic;
}

export interface GenericView {
  readonly description: DeviceDescription;
  readonly properties: ReadonlyMap<string, PropertyBinding>;
}

export function genericView(discovered: readonly Discovered[], title?: string): GenericView {
  const counts = new Map<string, number>();
  for (const { characteristic } of discovered) counts.set(characteristic.uuid, (counts.get(characteristic.uuid) ?? 0) + 1);
  const codec = hex();
  const specs: Record<string, PropertySpec> = {};
  const properties = new Map<string, PropertyBinding>();
  for (const { service, characteristic } of discovered) {
    const name = counts.get(characteristic.uuid) === 1 ? characteristic.uuid : `${service}-${characteristic.uuid}`;
    const has = (property: string): boolean => (characteristic.properties as readonly string[]).includes(property);
    specs[name] = {
      type: 'string',
      title: characteristic.name ?? `Characteristic ${characteristic.uuid}`,
      description: `raw value in hex; service ${service}; ${characteristic.properties.join(', ')}`,
      writable: has('write') || has('writeWithoutResponse'),
      // Without notifications the last value goes stale: a GET asks the device.
      observable: has('notify') || has('indicate'),
    };
    properties.set(name, { name, service, characteristic: characteristic.uuid, codec });
  }
  return {
    description: { ...(title === undefined ? {} : { title }), model: 'generic-gatt', properties: specs, actions: {}, events: {} },
    properties,
  };
}

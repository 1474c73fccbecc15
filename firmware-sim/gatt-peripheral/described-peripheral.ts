/**
 * A GATT peripheral made from a description (description.ts) on a simulated radio:
 * it serves each characteristic's value, takes writes where its properties allow,
 * and notifies subscribers when the value changes (`set`). Each call makes a new,
 * independent instance.
 *
 * ```ts
 * const thermometer = createDescribedPeripheral(parsePeripheral(yaml.parse(text)));
 * thermometer.set('temperature', 22.75); // notified to the central, as the firmware would
 * ```
 */
import { AttError, ATT_WRITE_NOT_PERMITTED, GattServer, nobleUuid, type CharacteristicDefinition } from '../coffee-maker/gatt-server.js';
import { SimulatedRadio, type RadioOptions } from '../coffee-maker/radio.js';
import type { CharacteristicDescription, PeripheralDescription } from './description.js';
import { decodeValue, encodeValue } from './values.js';

export interface DescribedPeripheral {
  /** noble's bindings: hand this to `with-bindings.js` (or the BLE driver's `bindings`). */
  readonly radio: SimulatedRadio;
  readonly address: string;
  /** The current value of a characteristic, by its name (or uuid). */
  get(name: string): number | boolean | string;
  /** Changes a value as the firmware would, notifying subscribed centrals. */
  set(name: string, value: number | boolean | string): void;
  /** Takes it off the air (closing the radio if it made it). */
  stop(): void;
}

interface Slot {
  readonly service: string;
  readonly description: CharacteristicDescription;
  value: number | boolean | string;
}

export function createDescribedPeripheral(description: PeripheralDescription, options: { radio?: SimulatedRadio; latencyMs?: RadioOptions['latencyMs'] } = {}): DescribedPeripheral {
  const slots = new Map<string, Slot>();
  let gatt: GattServer;
  const notify = (slot: Slot): void => {
    if (slot.description.properties.includes('notify') || slot.description.properties.includes('indicate')) {
      gatt.notify(slot.service, slot.description.uuid, encodeValue(slot.description.format, slot.description.exponent, slot.value));
    }
  };
  gatt = new GattServer(
    description.services.map((service) => ({
      uuid: service.uuid,
      characteristics: service.characteristics.map((characteristic): CharacteristicDefinition => {
        const slot: Slot = { service: nobleUuid(service.uuid), description: characteristic, value: characteristic.value };
        slots.set(characteristic.name ?? nobleUuid(characteristic.uuid), slot);
        const { format, exponent, properties } = characteristic;
        const writable = properties.includes('write') || properties.includes('writeWithoutResponse');
        return {
          uuid: characteristic.uuid,
          properties,
          read: () => encodeValue(format, exponent, slot.value),
          write: (bytes) => {
            if (!writable) throw new AttError(ATT_WRITE_NOT_PERMITTED, 'not writable');
            slot.value = decodeValue(format, exponent, bytes);
            notify(slot);
          },
        };
      }),
    })),
  );
  const ownRadio = options.radio === undefined;
  const radio = options.radio ?? new SimulatedRadio(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs });
  radio.addPeripheral({ address: description.address, localName: description.localName, serviceUuids: description.advertise.map(nobleUuid), gatt });
  const slot = (name: string): Slot => {
    const found = slots.get(name);
    if (!found) throw new Error(`no characteristic "${name}" (known: ${[...slots.keys()].join(', ')})`);
    return found;
  };
  let stopped = false;
  return {
    radio,
    address: description.address,
    get: (name) => slot(name).value,
    set(name, value) {
      const target = slot(name);
      target.value = value;
      notify(target);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (ownRadio) radio.close();
      else radio.removePeripheral(description.address);
    },
  };
}

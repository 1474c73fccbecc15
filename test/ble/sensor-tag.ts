/**
 * A small peripheral with no profile, for the generic GATT view: a standard
 * temperature, a read/write register, a write-only command, a notify-only
 * characteristic, and one uuid in two services.
 */
import { GattServer, type SimulatedRadio } from '../../firmware-sim/coffee-maker/index.js';

export const TAG_ADDRESS = 'aa:bb:cc:00:00:01';
export const REGISTER = 'c0de0001c0de4c0d9c0d0123456789ab';
export const COMMAND = 'c0de0002c0de4c0d9c0d0123456789ab';
export const ALERT = 'c0de0003c0de4c0d9c0d0123456789ab';

export interface SensorTag {
  gatt: GattServer;
  register: Uint8Array;
  commands: Uint8Array[];
}

export function addSensorTag(radio: SimulatedRadio, options: { address?: string; name?: string; services?: string[]; mtu?: number } = {}): SensorTag {
  const tag: SensorTag = { gatt: undefined as unknown as GattServer, register: Uint8Array.of(1, 2), commands: [] };
  tag.gatt = new GattServer([
    { uuid: '181a', characteristics: [{ uuid: '2a6e', properties: ['read', 'notify'], read: () => Uint8Array.of(0x98, 0x08) }] },
    {
      uuid: 'c0de0000-c0de-4c0d-9c0d-0123456789ab',
      characteristics: [
        {
          uuid: REGISTER,
          properties: ['read', 'write'],
          read: () => tag.register,
          write: (value) => {
            tag.register = value;
          },
        },
        { uuid: COMMAND, properties: ['writeWithoutResponse'], write: (value) => void tag.commands.push(value) },
        { uuid: ALERT, properties: ['notify'] },
      ],
    },
    { uuid: '180f', characteristics: [{ uuid: '2a19', properties: ['read'], read: () => Uint8Array.of(77) }] },
    { uuid: 'b000', characteristics: [{ uuid: '2a19', properties: ['read'], read: () => Uint8Array.of(33) }] },
  ]);
  radio.addPeripheral({
    address: options.address ?? TAG_ADDRESS,
    localName: options.name ?? 'Tag',
    serviceUuids: options.services ?? ['181a'],
    mtu: options.mtu ?? 23,
    gatt: tag.gatt,
  });
  return tag;
}

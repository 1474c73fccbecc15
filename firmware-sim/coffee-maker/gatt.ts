/**
 * The coffee maker's GATT layout: a custom coffee service, the standard Battery
 * Service (0x180F) and Device Information (0x180A), as bytes on the air. Values are
 * little-endian, as GATT's own types are.
 *
 *   state        [state, error]  read, notify   state: 0 idle 1 heating 2 brewing 3 ready 4 error;
 *                                               error: 0 none 1 no-water 2 busy
 *   water        uint8 %         read, notify
 *   boiler       int16le °C×100  read, notify
 *   cups brewed  uint16le        read
 *   keep-warm    uint8 0/1       read, write
 *   brew         [size, strength] write        size: 0 small 1 medium 2 large; strength: 0 mild 1 normal 2 strong
 *   maintenance  [opcode]        write          1 = the tank was refilled
 */
import { ATT_INVALID_LENGTH, AttError, GattServer, type ServiceDefinition } from './gatt-server.js';
import { BREW_STATES, CUP_SIZES, MACHINE_ERRORS, STRENGTHS, type CoffeeMachine, type MachineField } from './machine.js';

const uuid = (n: number): string => `c0ffee${n.toString(16).padStart(2, '0')}-cafe-4b1d-9e2a-5a7b3c8d1e0f`;

export const CoffeeUuids = {
  service: uuid(0x00),
  state: uuid(0x01),
  water: uuid(0x02),
  boilerTemperature: uuid(0x03),
  cupsBrewed: uuid(0x04),
  keepWarm: uuid(0x05),
  brew: uuid(0x06),
  maintenance: uuid(0x07),
  batteryService: '180f',
  batteryLevel: '2a19',
  deviceInformation: '180a',
  manufacturerName: '2a29',
  modelNumber: '2a24',
  firmwareRevision: '2a26',
} as const;

/** An application-level ATT error: the value is not one the firmware knows. */
export const ATT_VALUE_NOT_ALLOWED = 0x80;
export const MAINTENANCE_REFILL = 0x01;
export const FIRMWARE_REVISION = '1.2.0';

function int16le(value: number): Uint8Array {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setInt16(0, value, true);
  return bytes;
}

function uint16le(value: number): Uint8Array {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, true);
  return bytes;
}

/** Encoders of each notifying characteristic, by the machine field that changes it. */
function encoders(machine: CoffeeMachine): Partial<Record<MachineField, { service: string; characteristic: string; value: () => Uint8Array }>> {
  const state = { service: CoffeeUuids.service, characteristic: CoffeeUuids.state, value: () => stateBytes(machine) };
  return {
    state,
    error: state,
    water: { service: CoffeeUuids.service, characteristic: CoffeeUuids.water, value: () => Uint8Array.of(machine.snapshot().water) },
    boilerTemperature: {
      service: CoffeeUuids.service,
      characteristic: CoffeeUuids.boilerTemperature,
      value: () => int16le(Math.round(machine.snapshot().boilerTemperature * 100)),
    },
    battery: { service: CoffeeUuids.batteryService, characteristic: CoffeeUuids.batteryLevel, value: () => Uint8Array.of(machine.snapshot().battery) },
  };
}

function stateBytes(machine: CoffeeMachine): Uint8Array {
  const { state, error } = machine.snapshot();
  return Uint8Array.of(BREW_STATES.indexOf(state), error === null ? 0 : MACHINE_ERRORS.indexOf(error) + 1);
}

function brew(machine: CoffeeMachine, value: Uint8Array): void {
  const size = CUP_SIZES[value[0] ?? -1];
  const strength = value.length > 1 ? STRENGTHS[value[1]!] : 'normal';
  if (value.length < 1 || value.length > 2) throw new AttError(ATT_INVALID_LENGTH, 'brew takes 1 or 2 bytes');
  if (!size || !strength) throw new AttError(ATT_VALUE_NOT_ALLOWED, 'unknown cup size or strength');
  machine.brew(size, strength);
}

/** The GATT server of a coffee maker running `machine`; it notifies as the machine changes. */
export function coffeeMakerGatt(machine: CoffeeMachine, info: { manufacturer: string; model: string }): { gatt: GattServer; detach(): void } {
  const text = new TextEncoder();
  const services: ServiceDefinition[] = [
    {
      uuid: CoffeeUuids.service,
      characteristics: [
        { uuid: CoffeeUuids.state, properties: ['read', 'notify'], read: () => stateBytes(machine) },
        { uuid: CoffeeUuids.water, properties: ['read', 'notify'], read: () => Uint8Array.of(machine.snapshot().water) },
        {
          uuid: CoffeeUuids.boilerTemperature,
          properties: ['read', 'notify'],
          read: () => int16le(Math.round(machine.snapshot().boilerTemperature * 100)),
        },
        { uuid: CoffeeUuids.cupsBrewed, properties: ['read'], read: () => uint16le(machine.snapshot().cupsBrewed) },
        {
          uuid: CoffeeUuids.keepWarm,
          properties: ['read', 'write'],
          read: () => Uint8Array.of(machine.snapshot().keepWarm ? 1 : 0),
          write: (value) => {
            if (value.length !== 1) throw new AttError(ATT_INVALID_LENGTH, 'keep-warm takes 1 byte');
            if (value[0]! > 1) throw new AttError(ATT_VALUE_NOT_ALLOWED, 'keep-warm is 0 or 1');
            machine.setKeepWarm(value[0] === 1);
          },
        },
        { uuid: CoffeeUuids.brew, properties: ['write'], write: (value) => brew(machine, value) },
        {
          uuid: CoffeeUuids.maintenance,
          properties: ['write'],
          write: (value) => {
            if (value.length !== 1 || value[0] !== MAINTENANCE_REFILL) throw new AttError(ATT_VALUE_NOT_ALLOWED, 'unknown maintenance opcode');
            machine.refill();
          },
        },
      ],
    },
    {
      uuid: CoffeeUuids.batteryService,
      characteristics: [
        { uuid: CoffeeUuids.batteryLevel, properties: ['read', 'notify'], read: () => Uint8Array.of(machine.snapshot().battery) },
      ],
    },
    {
      uuid: CoffeeUuids.deviceInformation,
      characteristics: [
        { uuid: CoffeeUuids.manufacturerName, properties: ['read'], read: () => text.encode(info.manufacturer) },
        { uuid: CoffeeUuids.modelNumber, properties: ['read'], read: () => text.encode(info.model) },
        { uuid: CoffeeUuids.firmwareRevision, properties: ['read'], read: () => text.encode(FIRMWARE_REVISION) },
      ],
    },
  ];
  const gatt = new GattServer(services);
  const byField = encoders(machine);
  const onChange = (field: MachineField): void => {
    const target = byField[field];
    if (target) gatt.notify(target.service, target.characteristic, target.value());
  };
  machine.on('change', onChange);
  return { gatt, detach: () => machine.off('change', onChange) };
}

/**
 * A simulated Bluetooth coffee maker: the firmware (machine.ts), its GATT server
 * (gatt.ts) and a simulated radio (radio.ts) that noble drives through its bindings
 * interface. Each call makes a new, independent instance.
 *
 * ```ts
 * const coffee = createSimulatedCoffeeMaker({ speed: 50 });
 * const noble = withBindings(coffee.radio); // @abandonware/noble/with-bindings.js
 * ```
 */
import { coffeeMakerGatt } from './gatt.js';
import { CoffeeMachine, type CoffeeMachineOptions } from './machine.js';
import { SimulatedRadio, type RadioOptions } from './radio.js';
import type { GattServer } from './gatt-server.js';

export interface SimulatedCoffeeMakerOptions extends CoffeeMachineOptions {
  /** Default `c0:ff:ee:00:00:01`. */
  address?: string;
  /** The advertised local name (default `Cafetera`). */
  name?: string;
  /** ATT MTU after the exchange (default 185, what phones usually get). */
  mtu?: number;
  /** dBm (default -58). */
  rssi?: number;
  /** Put it on this radio (with other peripherals) instead of a radio of its own. */
  radio?: SimulatedRadio;
  /** For the radio it makes when none is given. */
  latencyMs?: RadioOptions['latencyMs'];
}

export interface SimulatedCoffeeMaker {
  readonly machine: CoffeeMachine;
  readonly gatt: GattServer;
  /** noble's bindings: hand this to `with-bindings.js`. */
  readonly radio: SimulatedRadio;
  readonly address: string;
  /** Stops the firmware's timers and takes it off the air (closing the radio if it made it). */
  stop(): void;
}

export const DEFAULT_COFFEE_ADDRESS = 'c0:ff:ee:00:00:01';

export function createSimulatedCoffeeMaker(options: SimulatedCoffeeMakerOptions = {}): SimulatedCoffeeMaker {
  const address = options.address ?? DEFAULT_COFFEE_ADDRESS;
  const ownRadio = options.radio === undefined;
  const radio = options.radio ?? new SimulatedRadio(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs });
  const machine = new CoffeeMachine(options);
  const { gatt, detach } = coffeeMakerGatt(machine, { manufacturer: 'Pasarela Labs', model: 'CM-1 (simulated)' });
  radio.addPeripheral({
    address,
    localName: options.name ?? 'Cafetera',
    serviceUuids: [gatt.services[0]!.uuid],
    mtu: options.mtu ?? 185,
    rssi: options.rssi ?? -58,
    txPowerLevel: 0,
    gatt,
  });
  let stopped = false;
  return {
    machine,
    gatt,
    radio,
    address,
    stop() {
      if (stopped) return;
      stopped = true;
      machine.stop();
      detach();
      if (ownRadio) radio.close();
      else radio.removePeripheral(address);
    },
  };
}

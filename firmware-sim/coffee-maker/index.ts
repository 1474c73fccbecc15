/** The simulated Bluetooth coffee maker and the radio it is reached through. */
export { createSimulatedCoffeeMaker, DEFAULT_COFFEE_ADDRESS, type SimulatedCoffeeMaker, type SimulatedCoffeeMakerOptions } from './coffee-maker.js';
export { CoffeeMachine, BREW_STATES, CUP_SIZES, STRENGTHS, MACHINE_ERRORS } from './machine.js';
export type { BrewState, CupSize, Strength, MachineError, MachineField, MachineSnapshot, CoffeeMachineOptions } from './machine.js';
export { CoffeeUuids, MAINTENANCE_REFILL } from './gatt.js';
export { SimulatedRadio, DisconnectReason, type SimulatedPeripheralOptions, type PeripheralStats, type RadioOptions } from './radio.js';
export { GattServer, AttError, nobleUuid, type CharacteristicDefinition, type ServiceDefinition, type CharacteristicProperty } from './gatt-server.js';
export { SimClock } from './clock.js';

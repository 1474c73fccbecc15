/** A simulated GATT peripheral built from a description (YAML or JSON data), on a simulated radio. */
export { createDescribedPeripheral, type DescribedPeripheral } from './described-peripheral.js';
export { parsePeripheral, peripheralSchema, FORMATS, type PeripheralDescription, type CharacteristicDescription, type ValueFormat } from './description.js';
export { decodeValue, encodeValue } from './values.js';

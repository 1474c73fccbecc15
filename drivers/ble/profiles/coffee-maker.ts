/**
 * A Bluetooth coffee maker (firmware-sim/coffee-maker is one): a custom coffee
 * service, the Battery Service and Device Information. State notifications carry
 * [state, error]; the brew command is [size, strength].
 */
const coffee = (n: number): string => `c0ffee0${n}-cafe-4b1d-9e2a-5a7b3c8d1e0f`;

const STATES = ['idle', 'heating', 'brewing', 'ready', 'error'];
const ERRORS = [null, 'no-water', 'busy'];
const SIZES = ['small', 'medium', 'large'];
const STRENGTHS = ['mild', 'normal', 'strong'];

const state = { type: 'enum', values: STATES } as const;
const error = { type: 'enum', values: ERRORS, offset: 1 } as const;

export const coffeeMaker = {
  title: 'Coffee maker',
  service: coffee(0),
  match: { services: [coffee(0)] },
  properties: {
    state: { type: 'string', enum: STATES, characteristic: coffee(1), codec: state },
    water: { type: 'integer', unit: '%', minimum: 0, maximum: 100, characteristic: coffee(2), codec: 'uint8' },
    boilerTemperature: { type: 'number', unit: '°C', characteristic: coffee(3), codec: { type: 'int16le', scale: 0.01 } },
    // Not notified: a GET reads the machine.
    cupsBrewed: { type: 'integer', minimum: 0, observable: false, characteristic: coffee(4), codec: 'uint16le' },
    keepWarm: { type: 'boolean', writable: true, observable: false, characteristic: coffee(5), codec: { type: 'bool' } },
    battery: { type: 'integer', unit: '%', minimum: 0, maximum: 100, service: '180f', characteristic: '2a19', codec: 'uint8' },
    firmware: { type: 'string', service: '180a', characteristic: '2a26', codec: 'utf8' },
  },
  actions: {
    brew: {
      title: 'Brew a cup',
      input: {
        type: 'object',
        // A call without input brews a medium cup of normal strength.
        properties: { size: { type: 'string', enum: SIZES, default: 'medium' }, strength: { type: 'string', enum: STRENGTHS, default: 'normal' } },
        required: ['size'],
        additionalProperties: false,
      },
      output: { type: 'object', properties: { state: { type: 'string', enum: STATES }, error: { type: 'string' } } },
      characteristic: coffee(6),
      codec: {
        type: 'struct',
        fields: [
          { name: 'size', codec: { type: 'enum', values: SIZES } },
          { name: 'strength', codec: { type: 'enum', values: STRENGTHS, offset: 1 }, default: 'normal' },
        ],
      },
      // The machine answers the command in its state: heating, or error with the reason.
      result: { characteristic: coffee(1), codec: { type: 'struct', fields: [{ name: 'state', codec: state }, { name: 'error', codec: error }] } },
    },
    refill: {
      title: 'Refill the tank',
      output: { type: 'object', properties: { water: { type: 'integer', description: 'tank level, %' } } },
      characteristic: coffee(7),
      payload: '01',
      result: { characteristic: coffee(2), codec: { type: 'struct', fields: [{ name: 'water', codec: 'uint8' }] } },
    },
  },
  events: {
    error: {
      title: 'The machine refused a command',
      data: { type: 'object', properties: { code: { type: 'string', enum: ['no-water', 'busy'] } } },
      characteristic: coffee(1),
      codec: error,
      field: 'code',
    },
    ready: { title: 'Coffee is ready', characteristic: coffee(1), codec: state, equals: 'ready' },
  },
};

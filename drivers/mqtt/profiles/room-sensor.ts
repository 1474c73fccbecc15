/** A room sensor publishing plain JSON (`{"temperature":21.4,"humidity":48,...}`). */
export default {
  title: 'Room sensor',
  convention: 'plain-json',
  properties: {
    temperature: { type: 'number', unit: '°C' },
    humidity: { type: 'number', unit: '%', minimum: 0, maximum: 100 },
    offset: { type: 'number', unit: '°C', title: 'Calibration offset' },
    interval: { type: 'integer', unit: 'ms', minimum: 10, maximum: 3_600_000, writable: true, title: 'Report interval' },
  },
  actions: {
    calibrate: {
      title: 'Set the temperature offset',
      input: { type: 'object', properties: { offset: { type: 'number', minimum: -5, maximum: 5 } }, required: ['offset'], additionalProperties: false },
      confirm: 'offset',
      expect: 'offset',
    },
  },
};

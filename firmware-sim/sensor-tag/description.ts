/**
 * What the JSTP sensor tag announces about itself: the WoT description the gateway
 * serves as `GET ["devices", id]`. Data only.
 */
import type { DeviceDescription } from '../../drivers/driver.js';

export const MAX_BLINKS = 10;

export const TAG_DESCRIPTION: DeviceDescription = {
  title: 'JSTP sensor tag',
  model: 'pasarela-tag',
  properties: {
    temperature: { type: 'number', unit: '°C', title: 'Temperature' },
    battery: { type: 'integer', unit: '%', minimum: 0, maximum: 100, title: 'Battery' },
  },
  actions: {
    blink: {
      title: 'Blink the LED (to find the tag)',
      input: {
        type: 'object',
        properties: { times: { type: 'integer', minimum: 1, maximum: MAX_BLINKS } },
        additionalProperties: false,
      },
      output: { type: 'object', properties: { blinked: { type: 'integer' } } },
    },
  },
  events: {},
};

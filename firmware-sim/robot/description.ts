/**
 * What the robot's JSTP firmware announces about itself: the WoT description that
 * the gateway serves as `GET ["devices", id]`. Data only.
 */
import type { DeviceDescription } from '../../drivers/driver.js';
import { MOVE_LIMIT, SPEED_LIMITS } from './model.js';

const action = { type: 'string', enum: ['move', 'rotate'] } as const;

export const ROBOT_DESCRIPTION: DeviceDescription = {
  title: 'Two-wheeled robot',
  model: 'pasarela-robot',
  // The firmware in firmware-sim/robot is the project's own.
  manufacturer: 'Pasarela',
  properties: {
    battery: { type: 'integer', unit: '%', minimum: 0, maximum: 100, title: 'Battery' },
    pose: {
      type: 'object',
      title: 'Pose',
      description: 'x and y in metres from the arena centre, heading in degrees',
      properties: { x: { type: 'number' }, y: { type: 'number' }, heading: { type: 'number', minimum: 0, maximum: 360 } },
      required: ['x', 'y', 'heading'],
    },
    speed: { type: 'number', unit: 'm/s', ...SPEED_LIMITS, writable: true, title: 'Speed' },
    motors: { type: 'boolean', writable: true, title: 'Motors on' },
    state: { type: 'string', enum: ['idle', 'moving', 'rotating'], title: 'State' },
  },
  actions: {
    move: {
      title: 'Move straight (negative: backwards)',
      input: {
        type: 'object',
        properties: { distance: { type: 'number', minimum: -MOVE_LIMIT, maximum: MOVE_LIMIT, description: 'metres' } },
        required: ['distance'],
        additionalProperties: false,
      },
      output: { type: 'object', properties: { etaMs: { type: 'integer' } } },
    },
    rotate: {
      title: 'Turn on the spot (positive: counter-clockwise)',
      input: {
        type: 'object',
        properties: { angle: { type: 'number', minimum: -360, maximum: 360, description: 'degrees' } },
        required: ['angle'],
        additionalProperties: false,
      },
      output: { type: 'object', properties: { etaMs: { type: 'integer' } } },
    },
    stop: {
      title: 'Stop the current move or rotation',
      output: { type: 'object', properties: { interrupted: { type: 'boolean' } } },
    },
  },
  events: {
    progress: { data: { type: 'object', properties: { action, done: { type: 'number', minimum: 0, maximum: 1 } } } },
    done: { data: { type: 'object', properties: { action, completed: { type: 'boolean' }, reason: { type: 'string' } } } },
    bumper: { data: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } } } },
    lowBattery: { data: { type: 'object', properties: { battery: { type: 'integer' } } } },
  },
};

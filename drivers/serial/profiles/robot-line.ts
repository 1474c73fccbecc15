/**
 * The simulated two-wheeled robot's line protocol (firmware-sim/robot/line-firmware.ts),
 * GRBL-like: `bat?` -> `bat:87` `ok`; status reports `<Run|B:86|P:0.120,0.000,0.0|S:0.25|M:1>`;
 * events `[PRG:move|0.25]`, `[DONE:move|0|bumper]`, `[BUMP|X:1.900|Y:0.000]`, `[LOWBAT|B:14]`.
 */
const number = '-?\\d+(?:\\.\\d+)?';
const action = { type: 'string', enum: ['move', 'rotate'] } as const;
const STATE_WORDS = { Idle: 'idle', Run: 'moving', Turn: 'rotating' };

export const robotLine = {
  title: 'Two-wheeled robot',
  model: 'pasarela-robot',
  manufacturer: 'Pasarela',
  hello: 'ver?',
  announce: '^\\[MSG:.*ready\\]$',
  errors: {
    '1': { status: 501, reason: 'unknown command' },
    '2': { status: 400, reason: 'bad value' },
    '3': { status: 403, reason: 'motors are off' },
    '4': { status: 403, reason: 'busy: stop first' },
    '5': { status: 403, reason: 'battery too low' },
  },
  status: [{
    match: `^<(?<state>\\w+)\\|B:(?<b>\\d+)\\|P:(?<x>${number}),(?<y>${number}),(?<h>${number})\\|S:(?<s>${number})\\|M:(?<m>[01])>$`,
    properties: { state: 'state', battery: 'b', pose: { x: 'x', y: 'y', heading: 'h' }, speed: 's', motors: 'm' },
  }],
  properties: {
    battery: { type: 'integer', unit: '%', minimum: 0, maximum: 100, title: 'Battery', read: 'bat?', reply: '^bat:(\\d+)$' },
    pose: {
      type: 'object',
      title: 'Pose',
      description: 'x and y in metres from the arena centre, heading in degrees',
      properties: { x: { type: 'number' }, y: { type: 'number' }, heading: { type: 'number', minimum: 0, maximum: 360 } },
      required: ['x', 'y', 'heading'],
      read: 'pose?',
      reply: `^pose:(?<x>${number}),(?<y>${number}),(?<heading>${number})$`,
    },
    speed: { type: 'number', unit: 'm/s', minimum: 0.05, maximum: 1, writable: true, title: 'Speed', read: 'speed?', write: 'speed={value}', reply: `^speed:(${number})$` },
    motors: { type: 'boolean', writable: true, title: 'Motors on', read: 'motors?', write: 'motors={value}', reply: '^motors:([01])$' },
    state: { type: 'string', enum: ['idle', 'moving', 'rotating'], title: 'State', read: 'state?', reply: '^state:(\\w+)$', map: STATE_WORDS },
  },
  actions: {
    move: {
      title: 'Move straight (negative: backwards)',
      input: {
        type: 'object',
        properties: { distance: { type: 'number', minimum: -10, maximum: 10, description: 'metres' } },
        required: ['distance'],
        additionalProperties: false,
      },
      output: { type: 'object', properties: { etaMs: { type: 'integer' } } },
      command: 'move {distance}',
      reply: '^eta:(?<etaMs>\\d+)$',
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
      command: 'rot {angle}',
      reply: '^eta:(?<etaMs>\\d+)$',
    },
    stop: {
      title: 'Stop the current move or rotation',
      output: { type: 'object', properties: { interrupted: { type: 'boolean' } } },
      command: 'stop',
      reply: '^stopped:(?<interrupted>[01])$',
    },
  },
  events: {
    progress: {
      data: { type: 'object', properties: { action, done: { type: 'number', minimum: 0, maximum: 1 } } },
      match: `^\\[PRG:(?<action>\\w+)\\|(?<done>${number})\\]$`,
    },
    done: {
      data: { type: 'object', properties: { action, completed: { type: 'boolean' }, reason: { type: 'string' } } },
      match: '^\\[DONE:(?<action>\\w+)\\|(?<completed>[01])\\|(?<reason>[^\\]]*)\\]$',
    },
    bumper: {
      data: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } } },
      match: `^\\[BUMP\\|X:(?<x>${number})\\|Y:(?<y>${number})\\]$`,
    },
    lowBattery: {
      data: { type: 'object', properties: { battery: { type: 'integer' } } },
      match: '^\\[LOWBAT\\|B:(?<battery>\\d+)\\]$',
    },
  },
};

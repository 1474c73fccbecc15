/**
 * What a description becomes in Home Assistant, for the shapes the demo devices do
 * not have: a writable string, an enum of numbers, a one-value input, an input no
 * entity can set, a property without declared fields, an id with characters topics
 * and unique ids cannot take; and how commands are read.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceDetails } from '../../gateway/devices/registry.js';
import { humanize, planDevice } from '../../gateway/homeassistant/entities.js';
import { commandResult, decodeCommand, statePayload } from '../../gateway/homeassistant/payloads.js';

const naming = { prefix: 'homeassistant', node: 'hall-pi', version: '9.9.9' };

function plan(details: Partial<DeviceDetails>) {
  return planDevice({ id: 'dev', driver: 'mqtt', online: true, ...details }, naming);
}

function component(result: ReturnType<typeof plan>, objectId: string) {
  const found = result.entities.find((entity) => entity.topic.split('/')[3] === objectId);
  if (!found) throw new Error(`no entity ${objectId} in ${result.entities.map((entity) => entity.topic).join(', ')}`);
  return found;
}

describe('planDevice', () => {
  it('makes a text entity of a writable string and a plain sensor of numbers HA cannot list as options', () => {
    const result = plan({ properties: { label: { type: 'string', writable: true, maxLength: 40 }, mode: { type: 'integer', enum: [1, 2, 3] } } });
    expect(component(result, 'dev_label')).toMatchObject({ component: 'text', config: { command_topic: 'hall-pi/dev/properties/label/set', max: 40 } });
    const mode = component(result, 'dev_mode');
    expect(mode.component).toBe('sensor');
    expect(mode.config).not.toHaveProperty('options');
    expect(result.commands.get('hall-pi/dev/properties/label/set')).toMatchObject({ kind: 'write', property: 'label' });
  });

  it('gives a one-value input its own control, and leaves out an action whose required input nothing can set', () => {
    const result = plan({
      actions: {
        dim: { input: { type: 'integer', minimum: 0, maximum: 100 } },
        say: { input: { type: 'object', properties: { text: { type: 'array' } }, required: ['text'] } },
      },
    });
    expect(component(result, 'dev_dim_value')).toMatchObject({ component: 'number', config: { min: 0, max: 100, step: 1, mode: 'auto' } });
    expect(result.actions.get('dim')).toMatchObject({ input: 'value' });
    expect(result.actions.has('say')).toBe(false);
    expect(result.entities.some((entity) => entity.topic.includes('dev_say'))).toBe(false);
    expect(result.skipped).toEqual(['action say: its input text is a array value no entity sets']);
  });

  it('skips a property with no fields to show, and says so', () => {
    const result = plan({ properties: { link: { type: 'object', observable: false } } });
    expect(result.entities).toEqual([]);
    expect(result.polled).toEqual([]);
    expect(result.skipped).toEqual(['property link: no entity fits a object value without declared fields']);
  });

  it('keeps topics free of wildcards and unique ids to what Home Assistant accepts', () => {
    const result = plan({ id: 'Kitchen #1/+', title: 'Kitchen', properties: { 'temp/°C': { type: 'number', unit: '°C' } } });
    const [entity] = result.entities;
    expect(entity!.topic).toBe('homeassistant/sensor/hall-pi/Kitchen__1___temp__C/config');
    expect(entity!.config).toMatchObject({ unique_id: 'hall-pi_Kitchen__1___temp__C', state_topic: 'hall-pi/Kitchen _1__/properties/temp_°C', device: { identifiers: ['hall-pi_Kitchen__1__'], name: 'Kitchen', via_device: 'hall-pi' } });
    expect(result.availability).toBe('hall-pi/Kitchen _1__/availability');
  });

  it('names things as people read them', () => {
    expect(humanize('boilerTemperature')).toBe('Boiler temperature');
    expect(humanize('light.power')).toBe('Light power');
    expect(humanize('cups_brewed')).toBe('Cups brewed');
  });
});

describe('payloads', () => {
  it('writes states as Home Assistant reads them', () => {
    expect([true, false, 21.5, 'idle', null, { x: 1 }].map(statePayload)).toEqual(['true', 'false', '21.5', 'idle', 'None', '{"x":1}']);
  });

  it('reads commands by the schema of what they set', () => {
    expect(decodeCommand('ON', { type: 'boolean' })).toEqual({ ok: true, value: true });
    expect(decodeCommand('false', { type: 'boolean' })).toEqual({ ok: true, value: false });
    expect(decodeCommand('maybe', { type: 'boolean' })).toEqual({ ok: false, error: 'expected true or false, got "maybe"' });
    expect(decodeCommand('0.5', { type: 'number' })).toEqual({ ok: true, value: 0.5 });
    expect(decodeCommand('', { type: 'number' })).toMatchObject({ ok: false });
    expect(decodeCommand('1.5', { type: 'integer' })).toEqual({ ok: false, error: 'expected an integer, got "1.5"' });
    expect(decodeCommand('large', { type: 'string', enum: ['small', 'large'] })).toEqual({ ok: true, value: 'large' });
    expect(decodeCommand('[1,2]', { type: 'array' })).toEqual({ ok: true, value: [1, 2] });
    expect(decodeCommand('[1,', { type: 'array' })).toMatchObject({ ok: false });
  });

  it('sums up an outcome in a state Home Assistant can keep (255 characters at most)', () => {
    expect(commandResult(200, { state: 'heating' }, 1)).toEqual({ status: 200, ok: true, outcome: '200 Ok', body: { state: 'heating' }, at: 1 });
    const long = commandResult(400, { error: 'x'.repeat(400) }, 1);
    expect(long).toMatchObject({ status: 400, ok: false, error: 'x'.repeat(400) });
    expect(long.outcome).toHaveLength(255);
    expect(long.outcome.startsWith('400 Bad Dispatch: xxx')).toBe(true);
  });
});

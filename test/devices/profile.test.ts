import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { describeProfile, loadProfile, ProfileError } from '../../drivers/profile.js';
import { loadMqttProfile } from '../../drivers/mqtt/profile-schema.js';
import { builtinProfiles } from '../../drivers/mqtt/profiles/index.js';
import { applyDefaults, checkValue } from '../../drivers/value-check.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';

function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).code).toBe(ErrorCode.Profile);
    return (error as Error).message;
  }
  throw new Error('the profile loaded');
}

describe('loadProfile', () => {
  it('fills defaults and keeps the model name', () => {
    const profile = loadProfile('thermo', { properties: { temperature: { type: 'number', unit: '°C' } } });
    expect(profile).toMatchObject({ name: 'thermo', model: 'thermo', actions: {}, events: {} });
  });

  it('names the profile and the field of each problem', () => {
    const message = problemsOf(() =>
      loadProfile('thermo', {
        properties: {
          temperature: { type: 'num' },
          level: { type: 'integer', minimum: 10, maximum: 1 },
          mode: { type: 'string', writeable: true },
        },
        actions: { heat: { input: { type: 'object', properties: { to: { type: 'decimal' } } } } },
        vendor: 'x',
      }),
    );
    expect(message).toMatch(/^profile "thermo": /);
    expect(message).toContain('properties.temperature.type:');
    expect(message).toContain('properties.level.minimum: minimum 10 is above maximum 1');
    expect(message).toContain('properties.mode.writeable: unknown field');
    expect(message).toContain('actions.heat.input.properties.to.type:');
    expect(message).toContain('vendor: unknown field');
  });

  it('validates converters named as data', () => {
    expect(problemsOf(() => loadProfile('gatt', { properties: { t: { type: 'number', converter: 'int24' } } }))).toContain('properties.t.converter');
  });

  it('takes a driver extension at each level and strips it from the description', () => {
    const extension = { profile: { service: z.string() }, property: { uuid: z.string().length(4) }, action: {}, event: {} };
    const profile = loadProfile('gatt', { service: 'abcd', properties: { t: { type: 'number', uuid: '2a6e', converter: 'uint8' } } }, extension);
    expect(profile.service).toBe('abcd');
    expect(profile.properties.t!.uuid).toBe('2a6e');
    expect(describeProfile(profile)).toEqual({ model: 'gatt', properties: { t: { type: 'number' } }, actions: {}, events: {} });
    expect(problemsOf(() => loadProfile('gatt', { service: 'abcd', properties: { t: { uuid: '2a6e1' } } }, extension))).toContain('properties.t.uuid');
  });
});

describe('MQTT profiles', () => {
  it('every built-in profile loads', () => {
    for (const [name, data] of Object.entries(builtinProfiles)) expect(() => loadMqttProfile(name, data)).not.toThrow();
  });

  it('requires a convention and checks that an action confirms through a real property', () => {
    expect(problemsOf(() => loadMqttProfile('plain', { properties: {} }))).toContain('convention');
    expect(problemsOf(() => loadMqttProfile('plug', { convention: 'tasmota', actions: { toggle: { confirm: 'nothing' } } }))).toContain(
      'actions.toggle.confirm: no property "nothing"',
    );
    // A name every object has is no property either.
    expect(problemsOf(() => loadMqttProfile('plug', { convention: 'tasmota', actions: { toggle: { confirm: 'constructor' } } }))).toContain(
      'actions.toggle.confirm: no property "constructor"',
    );
  });
});

describe('checkValue', () => {
  const setpoint = { type: 'object', properties: { to: { type: 'number', minimum: 5, maximum: 30 }, mode: { enum: ['eco', 'comfort'] } }, required: ['to'], additionalProperties: false } as const;

  it('accepts what fits, and names the field, what was expected (the allowed values) and what came', () => {
    expect(checkValue(setpoint, { to: 21, mode: 'eco' })).toBeUndefined();
    expect(checkValue(setpoint, { mode: 'eco' }, 'input')).toBe('input.to: expected a number from 5 to 30, got nothing');
    expect(checkValue(setpoint, { to: 31 })).toBe('value.to: expected a number from 5 to 30, got 31');
    expect(checkValue(setpoint, { to: 20, mode: 'turbo' })).toBe('value.mode: expected one of eco, comfort, got "turbo"');
    expect(checkValue(setpoint, { to: 20, extra: 1 })).toBe('value: expected only the fields to, mode, got unknown field "extra"');
    expect(checkValue({ type: 'integer' }, 2.5)).toBe('value: expected an integer, got 2.5');
    expect(checkValue({ type: 'integer', minimum: 1 }, 0)).toBe('value: expected an integer of at least 1, got 0');
    expect(checkValue({ type: 'array', items: { type: 'string' } }, ['a', 1])).toBe('value[1]: expected a string, got 1');
    expect(checkValue({ type: 'string', maxLength: 2 }, 'abc')).toBe('value: expected a string of at most 2 characters, got "abc" (3 characters)');
    expect(checkValue({ type: 'number' }, undefined)).toBe('value: expected a number, got nothing');
    expect(checkValue({ type: 'boolean' }, { on: true })).toBe('value: expected a boolean, got an object');
    expect(checkValue(undefined, 'anything')).toBeUndefined();
  });

  it('quotes an allowed value only where bare text would mislead', () => {
    expect(checkValue({ enum: ['on', 'off', '1', 'two words', ''] }, 'x')).toBe('value: expected one of on, off, "1", "two words", "", got "x"');
    expect(checkValue({ enum: [1, 2, true] }, 3)).toBe('value: expected one of 1, 2, true, got 3');
  });
});

describe('applyDefaults', () => {
  const brew = {
    type: 'object',
    properties: { size: { type: 'string', enum: ['small', 'medium', 'large'], default: 'medium' }, strength: { type: 'string', default: 'normal' }, note: { type: 'string' } },
    required: ['size'],
  } as const;

  it('fills each missing field that has a default, starting from nothing when the input is missing', () => {
    expect(applyDefaults(brew, undefined)).toEqual({ size: 'medium', strength: 'normal' });
    expect(applyDefaults(brew, { size: 'large' })).toEqual({ size: 'large', strength: 'normal' });
    expect(applyDefaults(brew, { size: 'small', strength: 'strong', note: 'x' })).toEqual({ size: 'small', strength: 'strong', note: 'x' });
  });

  it('never changes the value it was given, and leaves values without a schema or defaults alone', () => {
    const input = { size: 'large' };
    applyDefaults(brew, input);
    expect(input).toEqual({ size: 'large' });
    expect(applyDefaults({ type: 'object', properties: { a: { type: 'number' } } }, undefined)).toBeUndefined();
    expect(applyDefaults(undefined, 5)).toBe(5);
    expect(applyDefaults({ type: 'number', default: 3 }, undefined)).toBe(3);
  });

  it('fills nested objects and the objects in an array', () => {
    const schema = { type: 'object', properties: { light: { type: 'object', properties: { level: { type: 'integer', default: 50 } } } } } as const;
    expect(applyDefaults(schema, {})).toEqual({ light: { level: 50 } });
    expect(applyDefaults({ type: 'array', items: { type: 'object', properties: { on: { type: 'boolean', default: true } } } }, [{}, { on: false }])).toEqual([
      { on: true },
      { on: false },
    ]);
  });
});

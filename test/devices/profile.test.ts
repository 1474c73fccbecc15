import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { describeProfile, loadProfile, ProfileError } from '../../drivers/profile.js';
import { loadMqttProfile } from '../../drivers/mqtt/profile-schema.js';
import { builtinProfiles } from '../../drivers/mqtt/profiles/index.js';
import { checkValue } from '../../drivers/value-check.js';
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

  it('accepts what fits and names where a value does not', () => {
    expect(checkValue(setpoint, { to: 21, mode: 'eco' })).toBeUndefined();
    expect(checkValue(setpoint, { mode: 'eco' }, 'input')).toBe('input.to: missing');
    expect(checkValue(setpoint, { to: 31 })).toBe('value.to: 31 is above the maximum 30');
    expect(checkValue(setpoint, { to: 20, mode: 'turbo' })).toBe('value.mode: expected one of "eco", "comfort"');
    expect(checkValue(setpoint, { to: 20, extra: 1 })).toBe('value.extra: not allowed');
    expect(checkValue({ type: 'integer' }, 2.5)).toBe('value: expected an integer, got number');
    expect(checkValue({ type: 'array', items: { type: 'string' } }, ['a', 1])).toBe('value[1]: expected a string, got integer');
    expect(checkValue({ type: 'string', maxLength: 2 }, 'abc')).toBe('value: longer than 2 characters');
    expect(checkValue({ type: 'number' }, undefined)).toBe('value: missing');
    expect(checkValue(undefined, 'anything')).toBeUndefined();
  });
});

/**
 * Line profiles as data: the robot's profile compiles and describes the same device
 * its JSTP firmware announces; a broken profile names itself and the field.
 */
import { describe, expect, it } from 'vitest';
import { compileLineProfile } from '../../drivers/serial/line-profile.js';
import { robotLine } from '../../drivers/serial/profiles/robot-line.js';
import { fillTemplate, objectFromGroups, valueFromText } from '../../drivers/serial/text-values.js';
import { describeProfile, loadProfile } from '../../drivers/profile.js';
import { ROBOT_DESCRIPTION } from '../../firmware-sim/robot/description.js';

describe('line profiles', () => {
  it('the robot line profile describes the robot exactly as its JSTP firmware does', () => {
    const profile = compileLineProfile('robot-line', robotLine);
    expect(profile.description).toEqual(describeProfile(loadProfile('announced', ROBOT_DESCRIPTION)));
    expect(profile.status[0]!.match.exec('<Run|B:86|P:0.120,-1.000,359.9|S:0.25|M:1>')?.groups).toMatchObject({ state: 'Run', x: '0.120', y: '-1.000', h: '359.9' });
  });

  it('a broken profile is an error naming the profile and the field', () => {
    const broken = { ...robotLine, properties: { ...robotLine.properties, battery: { ...robotLine.properties.battery, reply: '(' } } };
    expect(() => compileLineProfile('broken', broken)).toThrow(/profile "broken": properties\.battery\.reply: not a valid regular expression/);
    const typo = { ...robotLine, actions: { ...robotLine.actions, stop: { command: 'stop', replies: 'x' } } };
    expect(() => compileLineProfile('typo', typo)).toThrow(/actions\.stop\.replies: unknown field/);
    const stray = { ...robotLine, status: [{ match: '^<', properties: { voltage: 'v' } }] };
    expect(() => compileLineProfile('stray', stray)).toThrow(/status\[0\]\.properties\.voltage: not a property/);
  });

  it('reads text through the schema, a map or a converter, and fills command templates', () => {
    expect(valueFromText({ schema: { type: 'integer' } }, '87')).toBe(87);
    expect(() => valueFromText({ schema: { type: 'integer' } }, '8.5')).toThrow(/integer/);
    expect(valueFromText({ schema: { type: 'boolean' } }, '0')).toBe(false);
    expect(valueFromText({ schema: { type: 'string' }, map: { Run: 'moving' } }, 'Run')).toBe('moving');
    expect(objectFromGroups({ type: 'object', properties: { x: { type: 'number' }, reason: { type: 'string' } } }, { x: '1.5', reason: '' })).toEqual({ x: 1.5 });
    expect(fillTemplate('move {distance}', { distance: -0.5 })).toBe('move -0.5');
    expect(fillTemplate('motors={value}', true)).toBe('motors=1');
    expect(() => fillTemplate('say {text}', { text: 'a\nstop' })).toThrow(/line break/);
  });
});

/** Conventions as data: state parsing and commands for plain JSON and Tasmota devices (no broker). */
import { describe, expect, it } from 'vitest';
import { plainJson } from '../../drivers/mqtt/plain-json.js';
import { loadMqttProfile } from '../../drivers/mqtt/profile-schema.js';
import { builtinProfiles } from '../../drivers/mqtt/profiles/index.js';
import { tasmota } from '../../drivers/mqtt/tasmota.js';
import { TopicDevice } from '../../drivers/mqtt/topic-device.js';

const room = new TopicDevice('home/kitchen', loadMqttProfile('room-sensor', builtinProfiles['room-sensor']), plainJson);
const plug = new TopicDevice('plug1', loadMqttProfile('smart-plug', builtinProfiles['smart-plug']), tasmota);

describe('plain JSON (Zigbee2MQTT style)', () => {
  it('subscribes to the state and availability topics', () => {
    expect(room.topics).toEqual(['home/kitchen', 'home/kitchen/availability']);
  });

  it('reads properties from the state document and reports values that break the profile', () => {
    expect(room.parseState({ temperature: 21.5, humidity: 40, linkquality: 90 })).toEqual({
      values: [['temperature', 21.5], ['humidity', 40]],
      events: [],
      problems: [],
    });
    expect(room.parseState({ temperature: 'warm', humidity: 140 }).problems).toEqual([
      'temperature: expected a number, got "warm"',
      'humidity: expected a number from 0 to 100, got 140',
    ]);
  });

  it('reads availability as text or as Zigbee2MQTT JSON', () => {
    expect(room.parseAvailability('online')).toBe(true);
    expect(room.parseAvailability('{"state":"offline"}')).toBe(false);
    expect(room.parseAvailability('perhaps')).toBeUndefined();
  });

  it('writes and runs actions through <topic>/set', () => {
    expect(room.write('interval', 500)).toEqual({ topic: 'home/kitchen/set', payload: '{"interval":500}' });
    expect(room.action('calibrate', { offset: 1 })).toEqual({ topic: 'home/kitchen/set', payload: '{"calibrate":{"offset":1}}' });
    expect(room.actionConfirmation('calibrate', { offset: 1 })).toEqual({ property: 'offset', value: 1 });
  });
});

describe('Tasmota', () => {
  it('subscribes to tele/ and stat/ topics and the LWT', () => {
    expect(plug.topics).toEqual(['tele/plug1/STATE', 'tele/plug1/SENSOR', 'stat/plug1/RESULT', 'tele/plug1/LWT']);
    expect([...plug.replyTopics]).toEqual(['stat/plug1/RESULT']);
  });

  it('decodes with converters and paths, and raises events', () => {
    expect(plug.parseState({ POWER: 'ON' }).values).toEqual([['power', true]]);
    expect(plug.parseState({ ENERGY: { Power: 61.5, Voltage: 229, Total: 0.5 } }).values).toEqual([
      ['watts', 61.5],
      ['voltage', 229],
      ['energy', 0.5],
    ]);
    expect(plug.parseState({ Button1: { Action: 'SINGLE' } }).events).toEqual([['button', 'SINGLE']]);
    expect(plug.parseState({ POWER: 'BROKEN' }).problems).toHaveLength(1);
    expect(plug.parseAvailability('Online')).toBe(true);
    expect(plug.parseAvailability('Offline')).toBe(false);
  });

  it('sends commands on cmnd/ with text payloads', () => {
    expect(plug.write('power', false)).toEqual({ topic: 'cmnd/plug1/POWER', payload: 'OFF' });
    expect(plug.action('toggle', undefined)).toEqual({ topic: 'cmnd/plug1/POWER', payload: 'TOGGLE' });
    expect(plug.actionConfirmation('toggle', undefined)).toEqual({ property: 'power' });
  });
});

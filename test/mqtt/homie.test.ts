/** Homie 4 discovery from `$` attributes, fed message by message (no broker). */
import { describe, expect, it } from 'vitest';
import { HomieDiscovery, type HomieUpdate } from '../../drivers/mqtt/homie.js';

const lamp: [string, string][] = [
  ['homie/lamp/$homie', '4.0.0'],
  ['homie/lamp/$name', 'Lamp'],
  ['homie/lamp/$nodes', 'light'],
  ['homie/lamp/light/$name', 'Light'],
  ['homie/lamp/light/$properties', 'on,level,mode'],
  ['homie/lamp/light/on/$datatype', 'boolean'],
  ['homie/lamp/light/on/$settable', 'true'],
  ['homie/lamp/light/level/$datatype', 'integer'],
  ['homie/lamp/light/level/$format', '0:100'],
  ['homie/lamp/light/level/$unit', '%'],
  ['homie/lamp/light/mode/$datatype', 'enum'],
  ['homie/lamp/light/mode/$format', 'warm,cold'],
];

function feed(discovery: HomieDiscovery, messages: [string, string][]): HomieUpdate[] {
  return messages.flatMap(([topic, payload]) => discovery.handle(topic, Buffer.from(payload)));
}

describe('HomieDiscovery', () => {
  it('describes a device once its attributes are complete, in any order', () => {
    const discovery = new HomieDiscovery();
    const updates = feed(discovery, [['homie/lamp/$state', 'ready'], ['homie/lamp/light/on', 'true'], ...[...lamp].reverse()]);
    const describe = updates.filter((update) => update.kind === 'describe').at(-1);
    expect(describe).toEqual({
      kind: 'describe',
      key: 'homie/lamp',
      description: {
        title: 'Lamp',
        model: 'homie',
        properties: {
          'light.on': { type: 'boolean', writable: true, title: 'Light' },
          'light.level': { type: 'integer', minimum: 0, maximum: 100, unit: '%', title: 'Light' },
          'light.mode': { type: 'string', enum: ['warm', 'cold'], title: 'Light' },
        },
      },
    });
    expect(updates).toContainEqual({ kind: 'online', key: 'homie/lamp', online: true });
    // The value that came before its datatype is decoded once the description is known.
    expect(updates).toContainEqual({ kind: 'value', key: 'homie/lamp', name: 'light.on', value: true });
  });

  it('decodes values by datatype and maps $state to availability', () => {
    const discovery = new HomieDiscovery();
    feed(discovery, lamp);
    expect(feed(discovery, [['homie/lamp/light/level', '42']])).toEqual([{ kind: 'value', key: 'homie/lamp', name: 'light.level', value: 42 }]);
    expect(feed(discovery, [['homie/lamp/$state', 'lost']])).toContainEqual({ kind: 'online', key: 'homie/lamp', online: false });
    expect(feed(discovery, [['homie/lamp/$state', 'alert']])).toContainEqual({ kind: 'online', key: 'homie/lamp', online: true });
    // Commands to the device are not state.
    expect(feed(discovery, [['homie/lamp/light/level/set', '10']])).toEqual([]);
  });

  it('throws on what breaks the convention, so the driver can count it', () => {
    const discovery = new HomieDiscovery();
    feed(discovery, lamp);
    expect(() => feed(discovery, [['homie/lamp/light/level', '4.5']])).toThrow(/integer/);
    expect(() => feed(discovery, [['homie/lamp/light/on', 'yes']])).toThrow(/boolean/);
    expect(() => feed(discovery, [['homie/lamp/$state', 'asleep']])).toThrow(/\$state/);
    expect(() => feed(discovery, [['homie/lamp/light/on/$datatype', 'bool']])).toThrow(/\$datatype/);
    // Names every object has are no datatypes either.
    expect(() => feed(discovery, [['homie/lamp/light/on/$datatype', 'toString']])).toThrow(/\$datatype/);
    expect(() => feed(discovery, [['homie/old/$homie', '3.0.1']])).toThrow(/version/);
  });

  it('removes a device on an empty $homie and builds set commands', () => {
    const discovery = new HomieDiscovery('base');
    feed(discovery, lamp.map(([topic, payload]) => [topic.replace(/^homie/, 'base'), payload]));
    expect(discovery.write('base/lamp', 'light.level', 30)).toEqual({ topic: 'base/lamp/light/level/set', payload: '30' });
    expect(discovery.write('base/lamp', 'light.mode', 'warm')).toEqual({ topic: 'base/lamp/light/mode/set', payload: 'warm' });
    expect(feed(discovery, [['base/lamp/$homie', '']])).toEqual([{ kind: 'remove', key: 'base/lamp' }]);
  });
});

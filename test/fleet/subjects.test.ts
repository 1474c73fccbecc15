/**
 * JSTP names and patterns as NATS subjects (pure): tokens read back to what they
 * were, the subjects a fleet pattern subscribes, whether a subscription takes a
 * subject, and which of two overlapping subscriptions takes an event's one copy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetBinds } from '../../gateway/fleet/fleet-binds.js';
import { eventSubject, gatewayOfEventSubject, subjectMatches, subjectsForPattern, token, untoken } from '../../gateway/fleet/subjects.js';

describe('fleet subjects', () => {
  it('escape any element into one subject token and read it back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (element) => {
        const escaped = token(element);
        expect(escaped).toMatch(/^[A-Za-z0-9_~-]+$/);
        expect(untoken(escaped)).toBe(element);
      }),
    );
    expect(token('kitchen-pi')).toBe('kitchen-pi');
    expect(token('a.b')).toBe('a~2eb');
  });

  it('name the gateway of an event subject, and nothing for other subjects', () => {
    expect(gatewayOfEventSubject(eventSubject('barn.1', 'PATCH', ['devices', 'x']))).toBe('barn.1');
    expect(gatewayOfEventSubject('pasarela.hb.barn')).toBeUndefined();
    expect(gatewayOfEventSubject('pasarela.ev.barn')).toBeUndefined();
  });

  it('subscribe the subjects a pattern needs', () => {
    expect(subjectsForPattern('PATCH', ['fleet', '*', 'devices', '*', 'properties', 'temperature'])).toEqual(['pasarela.ev.*.PATCH.devices.*.properties.temperature']);
    expect(subjectsForPattern('PATCH', ['fleet', 'kitchen', 'devices', '...'])).toEqual(['pasarela.ev.kitchen.PATCH.devices', 'pasarela.ev.kitchen.PATCH.devices.>']);
    expect(subjectsForPattern('*', ['fleet', '...'])).toEqual(['pasarela.ev.>']);
    // Nothing travels for a gateway's own PATCH ["fleet", name].
    expect(subjectsForPattern('PATCH', ['fleet', '*'])).toEqual([]);
  });

  it('take a subject as NATS does', () => {
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.*.c', 'a.b.c.d')).toBe(false);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('a.b', 'a.c')).toBe(false);
  });

  it('take an event that two held subjects match from the first of them only', () => {
    const binds = new FleetBinds(() => () => undefined);
    binds.bind(undefined, { method: 'PATCH', resource: ['fleet', '*', 'devices', '*', 'properties', 'temperature'] });
    binds.bind(undefined, { method: 'PATCH', resource: ['fleet', 'kitchen', 'devices', '...'] });
    const event = eventSubject('kitchen', 'PATCH', ['devices', 'room', 'properties', 'temperature']);
    const taking = binds.subscribed.filter((held) => binds.takes(held, event));
    expect(taking).toHaveLength(1);
    // Only one subject takes the barn's: it is taken from that one.
    const barn = eventSubject('barn', 'PATCH', ['devices', 'room', 'properties', 'temperature']);
    expect(binds.takes('pasarela.ev.*.PATCH.devices.*.properties.temperature', barn)).toBe(true);
  });
});

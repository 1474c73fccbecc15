import { describe, expect, it } from 'vitest';
import { compilePattern, normalizePattern } from '../../gateway/jstp/endpoint.js';
import { SubscriptionTable, type Subscription } from '../../gateway/jstp/table.js';
import type { EndpointMethod, Method, ResourceElement } from '../../gateway/jstp/dispatch.js';

interface Peer {
  name: string;
}

function peer(name: string): Peer {
  return { name };
}

function p(...elements: (string | number)[]) {
  const normalized = normalizePattern(elements, 'strict');
  if (!normalized.ok) throw new Error(normalized.reason);
  return compilePattern(normalized.pattern);
}

function ids(subscriptions: Subscription<Peer>[]): number[] {
  return subscriptions.map((subscription) => subscription.id);
}

function names(subscriptions: Subscription<Peer>[]): string[] {
  return subscriptions.map((subscription) => subscription.subscriber.name);
}

describe('SubscriptionTable: JSTP.md examples', () => {
  it('method * with ["*"] matches GET ["user"]', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('*', p('*'), peer('a'));
    expect(names(table.match('GET', ['user']))).toEqual(['a']);
    expect(table.match('GET', ['user', 'x'])).toEqual([]);
  });

  it('["article", ":title"] matches ["article", "Great new series"]', () => {
    const table = new SubscriptionTable<Peer>();
    const { subscription } = table.add('GET', p('article', ':title'), peer('a'));
    const found = table.match('GET', ['article', 'Great new series']);
    expect(found).toEqual([subscription]);
    expect(found[0]!.pattern.match(['article', 'Great new series'])).toEqual({ title: 'Great new series' });
  });

  it('["..."] matches any resource of any length', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('PUT', p('...'), peer('a'));
    for (const resource of [[], ['x'], ['x', 1, 'y'], Array.from({ length: 50 }, (_, i) => i)] as ResourceElement[][]) {
      expect(names(table.match('PUT', resource))).toEqual(['a']);
    }
  });

  it('["path", "...", "text", "...", ":extension"] matches both spec resources', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('path', '...', 'text', '...', ':extension'), peer('a'));
    expect(names(table.match('GET', ['path', 'folder', 'internal', 'text', 'value', 'txt']))).toEqual(['a']);
    expect(names(table.match('GET', ['path', 'text', 'md']))).toEqual(['a']);
    expect(table.match('GET', ['path', 'text'])).toEqual([]);
    expect(table.match('GET', ['path', 'folder', 'md'])).toEqual([]);
  });

  it('a BIND endpoint is matched against subscriptions bound to method BIND', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('BIND', p('devices', '...'), peer('watcher'));
    expect(names(table.match('BIND', ['devices', 'lamp']))).toEqual(['watcher']);
    expect(table.match('RELEASE', ['devices', 'lamp'])).toEqual([]);
  });
});

describe('SubscriptionTable: matching', () => {
  it('matches literals exactly, numbers by their string form', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('devices', 7), peer('seven'));
    table.add('GET', p('devices', 'lamp'), peer('lamp'));
    expect(names(table.match('GET', ['devices', 7]))).toEqual(['seven']);
    expect(names(table.match('GET', ['devices', '7']))).toEqual(['seven']);
    expect(names(table.match('GET', ['devices', 'lamp']))).toEqual(['lamp']);
    expect(table.match('GET', ['devices', 8])).toEqual([]);
    expect(table.match('GET', ['devices'])).toEqual([]);
    expect(table.match('GET', ['devices', 'lamp', 'x'])).toEqual([]);
  });

  it('a non-canonical number literal matches only the string', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('07'), peer('a'));
    expect(table.match('GET', [7])).toEqual([]);
    expect(names(table.match('GET', ['07']))).toEqual(['a']);
  });

  it('* and :name match exactly one element', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('PATCH', p('devices', '*', 'properties', 'temperature'), peer('star'));
    table.add('PATCH', p('devices', ':id', 'properties', ':property'), peer('capture'));
    expect(names(table.match('PATCH', ['devices', 'k1', 'properties', 'temperature']))).toEqual(['star', 'capture']);
    expect(names(table.match('PATCH', ['devices', 'k1', 'properties', 'humidity']))).toEqual(['capture']);
    expect(table.match('PATCH', ['devices', 'properties', 'temperature'])).toEqual([]);
  });

  it('escaped elements are literals', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('\\*'), peer('star'));
    table.add('GET', p('\\...'), peer('dots'));
    table.add('GET', p('\\:id'), peer('colon'));
    table.add('GET', p('\\\\x'), peer('backslash'));
    expect(names(table.match('GET', ['*']))).toEqual(['star']);
    expect(names(table.match('GET', ['...']))).toEqual(['dots']);
    expect(names(table.match('GET', [':id']))).toEqual(['colon']);
    expect(names(table.match('GET', ['\\x']))).toEqual(['backslash']);
    expect(table.match('GET', ['x'])).toEqual([]);
    expect(table.match('GET', [])).toEqual([]);
  });

  it('... matches zero or more elements anywhere', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('a', '...', 'b'), peer('middle'));
    table.add('GET', p('...', 'b'), peer('leading'));
    table.add('GET', p('a', '...'), peer('trailing'));
    expect(names(table.match('GET', ['a', 'b']))).toEqual(['middle', 'leading', 'trailing']);
    expect(names(table.match('GET', ['a', 1, 2, 'b']))).toEqual(['middle', 'leading', 'trailing']);
    expect(names(table.match('GET', ['a']))).toEqual(['trailing']);
    expect(names(table.match('GET', ['b']))).toEqual(['leading']);
    expect(names(table.match('GET', ['a', 'b', 'c']))).toEqual(['trailing']);
    expect(table.match('GET', ['c'])).toEqual([]);
  });

  it('... followed by a capture needs at least one element', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('...', ':last'), peer('a'));
    expect(table.match('GET', [])).toEqual([]);
    expect(names(table.match('GET', ['x']))).toEqual(['a']);
  });

  it('returns each subscription once even when many paths reach it', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('...', 'a', '...', 'a', '...'), peer('x'));
    table.add('GET', p('...', 'a', '...'), peer('y'));
    expect(names(table.match('GET', ['a', 'a', 'a', 'a', 'a', 'a']))).toEqual(['x', 'y']);
  });

  it('terminates with many ellipses and a long resource', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('...', 'a', '...', 'a', '...', 'a', '...', 'a', '...', 'a', '...', 'b'), peer('x'));
    table.add('GET', p('...', 'a', '...', 'a', '...', 'a', '...', 'a', '...', 'a', '...'), peer('y'));
    const resource: ResourceElement[] = Array.from({ length: 2000 }, () => 'a');
    // An exponential walk would not finish within the test timeout.
    expect(names(table.match('GET', resource))).toEqual(['y']);
  });

  it('method buckets: an endpoint method matches only itself, * matches every method', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('r'), peer('get'));
    table.add('POST', p('r'), peer('post'));
    table.add('*', p('r'), peer('any'));
    const methods: Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'BIND', 'RELEASE', 'ANSWER'];
    for (const method of methods) {
      const expected = method === 'GET' ? ['get', 'any'] : method === 'POST' ? ['post', 'any'] : ['any'];
      expect(names(table.match(method, ['r']))).toEqual(expected);
    }
  });

  it('results come in the order subscriptions were added, across methods and patterns', () => {
    const table = new SubscriptionTable<Peer>();
    const order: number[] = [];
    order.push(table.add('*', p('...'), peer('1')).subscription.id);
    order.push(table.add('GET', p('a', '*'), peer('2')).subscription.id);
    order.push(table.add('*', p('a', 'b'), peer('3')).subscription.id);
    order.push(table.add('GET', p('a', 'b'), peer('4')).subscription.id);
    order.push(table.add('GET', p('...', 'b'), peer('5')).subscription.id);
    order.push(table.add('*', p('a', ':x'), peer('6')).subscription.id);
    const found = table.match('GET', ['a', 'b']);
    expect(names(found)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(ids(found)).toEqual(order);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('several subscribers on one pattern come back in add order', () => {
    const table = new SubscriptionTable<Peer>();
    const peers = ['a', 'b', 'c', 'd'].map(peer);
    for (const each of peers) table.add('GET', p('x'), each);
    expect(table.match('GET', ['x']).map((s) => s.subscriber)).toEqual(peers);
  });

  it('the result array belongs to the caller', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('x'), peer('a'));
    const first = table.match('GET', ['x']);
    first.length = 0;
    expect(table.match('GET', ['x'])).toHaveLength(1);
    const miss = table.match('GET', ['y']);
    miss.push(first[0]!);
    expect(table.match('GET', ['y'])).toEqual([]);
  });

  it('an empty table matches nothing', () => {
    const table = new SubscriptionTable<Peer>();
    expect(table.match('GET', ['a'])).toEqual([]);
    expect(table.match('GET', [])).toEqual([]);
  });
});

describe('SubscriptionTable: add, remove', () => {
  it('add is idempotent per (subscriber, method, pattern key)', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    const first = table.add('GET', p('x', '*'), a);
    const second = table.add('GET', p('x', '*'), a);
    expect(first.added).toBe(true);
    expect(second.added).toBe(false);
    expect(second.subscription).toBe(first.subscription);
    expect(table.size).toBe(1);
    expect(table.countFor(a)).toBe(1);
    expect(table.match('GET', ['x', 1])).toHaveLength(1);
  });

  it('equal keys from differently written patterns are the same endpoint', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    table.add('GET', p('status', 200), a);
    expect(table.add('GET', p('status', '200'), a).added).toBe(false);
    expect(table.add('GET', compilePattern(['\\status', '200']), a).added).toBe(false);
    expect(table.size).toBe(1);
  });

  it('a different method, pattern or subscriber is a new subscription', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    const b = peer('b');
    expect(table.add('GET', p('x'), a).added).toBe(true);
    expect(table.add('*', p('x'), a).added).toBe(true);
    expect(table.add('GET', p('y'), a).added).toBe(true);
    expect(table.add('GET', p(':y'), a).added).toBe(true);
    expect(table.add('GET', p('x'), b).added).toBe(true);
    expect(table.size).toBe(5);
    expect(table.countFor(a)).toBe(4);
    expect(table.countFor(b)).toBe(1);
    expect(table.countFor(peer('a'))).toBe(0);
  });

  it('subscriptions carry what they were added with and increasing ids', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    const pattern = p('x');
    const first = table.add('GET', pattern, a).subscription;
    const second = table.add('PUT', pattern, a).subscription;
    expect(first).toMatchObject({ method: 'GET', subscriber: a });
    expect(first.pattern).toBe(pattern);
    expect(second.id).toBeGreaterThan(first.id);
  });

  it('remove takes away exactly the subscriber\'s subscription with that method and key', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    const b = peer('b');
    table.add('GET', p('x'), a);
    table.add('GET', p('x'), b);
    table.add('*', p('x'), a);
    expect(table.remove('GET', p('x'), a)).toBe(true);
    expect(names(table.match('GET', ['x']))).toEqual(['b', 'a']);
    expect(table.match('GET', ['x']).map((s) => s.method)).toEqual(['GET', '*']);
    expect(table.remove('GET', p('x'), a)).toBe(false);
    expect(table.remove('POST', p('x'), b)).toBe(false);
    expect(table.remove('GET', p('y'), b)).toBe(false);
    expect(table.remove('GET', p('x'), peer('b'))).toBe(false);
    expect(table.size).toBe(2);
  });

  it('remove matches the key, not the pattern object', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    table.add('GET', p('x', ':id'), a);
    expect(table.remove('GET', compilePattern(['x', ':id']), a)).toBe(true);
    expect(table.size).toBe(0);
  });

  it('removeSubscription removes that subscription once, and not a later re-add', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    const { subscription } = table.add('GET', p('x'), a);
    expect(table.removeSubscription(subscription)).toBe(true);
    expect(table.removeSubscription(subscription)).toBe(false);
    const again = table.add('GET', p('x'), a);
    expect(again.added).toBe(true);
    expect(again.subscription.id).not.toBe(subscription.id);
    expect(table.removeSubscription(subscription)).toBe(false);
    expect(table.match('GET', ['x'])).toEqual([again.subscription]);
  });

  it('removeSubscriber removes everything the subscriber bound and nothing else', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    const b = peer('b');
    table.add('GET', p('x'), a);
    table.add('*', p('...'), a);
    table.add('ANSWER', p('*', 'tx', '*'), a);
    table.add('GET', p('x'), b);
    expect(table.removeSubscriber(a)).toBe(3);
    expect(table.size).toBe(1);
    expect(table.countFor(a)).toBe(0);
    expect(names(table.match('GET', ['x']))).toEqual(['b']);
    expect(table.match('ANSWER', [200, 'tx', 'tr'])).toEqual([]);
    expect(table.removeSubscriber(a)).toBe(0);
  });

  it('removing one of two subscriptions sharing trie nodes keeps the other matching', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    table.add('GET', p('devices', '*', 'properties'), a);
    table.add('GET', p('devices', '*'), a);
    table.add('GET', p('devices', '*', 'properties', '...'), a);
    table.remove('GET', p('devices', '*'), a);
    expect(table.match('GET', ['devices', 1])).toEqual([]);
    expect(table.match('GET', ['devices', 1, 'properties'])).toHaveLength(2);
    table.remove('GET', p('devices', '*', 'properties'), a);
    expect(table.match('GET', ['devices', 1, 'properties'])).toHaveLength(1);
    expect(table.match('GET', ['devices', 1, 'properties', 'x'])).toHaveLength(1);
  });
});

describe('SubscriptionTable: pruning', () => {
  const patterns = [
    p('a'), p('a', 'b'), p('a', '*', 'c'), p('a', ':x', 'c'), p('...'), p('...', 'z'), p('a', '...', 'b', '...'),
    p(1, 2, 3), p('1', 'x'), p('\\*'), p('*', 'tx', '*'),
  ];
  const methods: EndpointMethod[] = ['GET', '*', 'ANSWER'];

  function fill(table: SubscriptionTable<Peer>, peers: Peer[]): void {
    for (const each of peers) for (const method of methods) for (const pattern of patterns) table.add(method, pattern, each);
  }

  it('counts nodes: shared prefixes share nodes', () => {
    const table = new SubscriptionTable<Peer>();
    table.add('GET', p('a', 'b'), peer('x'));
    expect(table.nodeCount).toBe(3);
    table.add('GET', p('a', 'c'), peer('x'));
    expect(table.nodeCount).toBe(4);
    table.add('GET', p('a', 'b'), peer('y'));
    expect(table.nodeCount).toBe(4);
    table.add('PUT', p('a'), peer('y'));
    expect(table.nodeCount).toBe(6);
  });

  it('remove brings size and node count back to zero', () => {
    const table = new SubscriptionTable<Peer>();
    const peers = [peer('a'), peer('b')];
    fill(table, peers);
    expect(table.size).toBe(peers.length * methods.length * patterns.length);
    expect(table.nodeCount).toBeGreaterThan(0);
    for (const each of peers) for (const method of methods) for (const pattern of patterns) {
      expect(table.remove(method, pattern, each)).toBe(true);
    }
    expect(table.size).toBe(0);
    expect(table.nodeCount).toBe(0);
    expect(table.match('GET', ['a'])).toEqual([]);
  });

  it('removeSubscriber brings size and node count back to zero', () => {
    const table = new SubscriptionTable<Peer>();
    const peers = [peer('a'), peer('b'), peer('c')];
    fill(table, peers);
    for (const each of peers) table.removeSubscriber(each);
    expect(table.size).toBe(0);
    expect(table.nodeCount).toBe(0);
  });

  it('prunes only what became empty', () => {
    const table = new SubscriptionTable<Peer>();
    const a = peer('a');
    table.add('GET', p('a', 'b', 'c'), a);
    const before = table.nodeCount;
    table.add('GET', p('a', 'x', 'y', 'z'), a);
    table.remove('GET', p('a', 'x', 'y', 'z'), a);
    expect(table.nodeCount).toBe(before);
    table.add('GET', p('a', 'b'), a);
    table.remove('GET', p('a', 'b'), a);
    expect(table.nodeCount).toBe(before);
    expect(table.match('GET', ['a', 'b', 'c'])).toHaveLength(1);
  });

  it('add/remove cycles do not grow the table', () => {
    const table = new SubscriptionTable<Peer>();
    const keep = peer('keep');
    table.add('GET', p('devices', '...'), keep);
    const baseline = table.nodeCount;
    for (let round = 0; round < 200; round++) {
      const transient = peer(`t${round}`);
      table.add('ANSWER', p('*', `tx-${round}`, '*'), transient);
      table.add('GET', p('devices', round, ':p'), transient);
      expect(table.match('ANSWER', [200, `tx-${round}`, 'tr'])).toHaveLength(1);
      expect(table.removeSubscriber(transient)).toBe(2);
    }
    expect(table.nodeCount).toBe(baseline);
    expect(table.size).toBe(1);
  });
});

describe('SubscriptionTable: index', () => {
  it('matching does not visit unrelated subscriptions', () => {
    // A pattern whose `match` is never expected to run: the table decides without calling it.
    const table = new SubscriptionTable<Peer>();
    let calls = 0;
    for (let i = 0; i < 10_000; i++) {
      const real = p('devices', `d${i}`, 'properties', '*');
      table.add('PATCH', { source: real.source, key: real.key, match: (r) => { calls++; return real.match(r); } }, peer(`p${i}`));
    }
    const found = table.match('PATCH', ['devices', 'd4321', 'properties', 'temperature']);
    expect(names(found)).toEqual(['p4321']);
    expect(calls).toBe(0);
  });
});

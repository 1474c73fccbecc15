import { describe, expect, it } from 'vitest';
import {
  createAnswer,
  createDispatch,
  serializeDispatch,
  toWire,
  validateDispatch,
  type Dispatch,
} from '../../gateway/jstp/dispatch.js';
import { Status } from '../../gateway/jstp/errors.js';

const base = (extra: Record<string, unknown> = {}) => ({
  protocol: ['JSTP', '0.5'],
  method: 'GET',
  resource: ['user'],
  timestamp: 1_700_000_000_000,
  ...extra,
});

function valid(raw: unknown, mode: 'strict' | 'quirks' = 'strict'): Dispatch {
  const result = validateDispatch(raw, mode);
  if (!result.ok) throw new Error(`expected valid, got ${result.status} ${result.reason}`);
  return result.dispatch;
}

function invalid(raw: unknown, mode: 'strict' | 'quirks' = 'strict') {
  const result = validateDispatch(raw, mode);
  if (result.ok) throw new Error('expected invalid');
  return result;
}

describe('dispatch validation', () => {
  it('accepts a regular dispatch and keeps every header', () => {
    const d = valid(base({ body: { a: 1 }, referer: 'me', token: ['t1'] }));
    expect(d).toEqual({ ...base(), body: { a: 1 }, referer: 'me', token: ['t1'] });
  });

  it('accepts versions 0.4, 0.5 and 0.6 and answers 505 to an unknown one', () => {
    for (const version of ['0.4', '0.5', '0.6']) valid(base({ protocol: ['JSTP', version] }));
    const result = invalid(base({ protocol: ['JSTP', '0.9'], token: ['tx'] }));
    expect(result.status).toBe(Status.VersionNotSupported);
    expect(result.transactionId).toBe('tx');
    expect(result.answerable).toBe(true);
  });

  it('reads the protocol name case-insensitively and rejects other protocols', () => {
    valid(base({ protocol: ['jstp', '0.5'] }));
    expect(invalid(base({ protocol: ['HTTP', '1.1'] })).status).toBe(Status.BadDispatch);
    expect(invalid(base({ protocol: 'JSTP' })).status).toBe(Status.BadDispatch);
  });

  it('lower-cases header names and upper-cases methods', () => {
    const d = valid({ Protocol: ['JSTP', '0.5'], METHOD: 'get', Resource: ['a'], TimeStamp: 5 });
    expect(d.method).toBe('GET');
    expect(d.resource).toEqual(['a']);
    expect(d.timestamp).toBe(5);
  });

  it('rejects a header that appears twice under different cases', () => {
    expect(invalid({ ...base(), Method: 'POST' }).status).toBe(Status.BadDispatch);
  });

  it('answers 405 to an unknown method', () => {
    const result = invalid(base({ method: 'BREW', token: ['tx'] }));
    expect(result.status).toBe(Status.MethodNotAllowed);
  });

  it('reads an empty token array as no token', () => {
    const d = valid(base({ token: [] }));
    expect(d.token).toBeUndefined();
  });

  it('writes token: [] when there is none, for node-jstp', () => {
    const d = valid(base());
    expect(toWire(d).token).toEqual([]);
    expect(JSON.parse(serializeDispatch(d)).token).toEqual([]);
  });

  it('keeps unknown headers and the 0.6 from/to headers', () => {
    const d = valid(base({ from: ['alice'], to: ['bob'], 'x-trace': 42 }));
    expect(d.from).toEqual(['alice']);
    expect(d.to).toEqual(['bob']);
    expect(d['x-trace']).toBe(42);
    expect(JSON.parse(serializeDispatch(d))).toMatchObject({ from: ['alice'], to: ['bob'], 'x-trace': 42 });
  });

  it('keeps headers named like Object.prototype members as plain data', () => {
    const raw = JSON.parse('{"protocol":["JSTP","0.5"],"method":"GET","resource":["a"],"timestamp":1,"constructor":1,"__proto__":{"polluted":true}}');
    const d = valid(raw);
    expect(d.constructor).toBe(1);
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect((d as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(serializeDispatch(d))).toMatchObject({ constructor: 1, ['__proto__']: { polluted: true } });
  });

  it('strict mode rejects a missing timestamp; quirks mode sets it', () => {
    const raw = { protocol: ['JSTP', '0.5'], method: 'GET', resource: ['a'] };
    expect(invalid(raw).status).toBe(Status.BadDispatch);
    const result = validateDispatch(raw, 'quirks', () => 77);
    expect(result.ok && result.dispatch.timestamp).toBe(77);
    expect(result.ok && result.repairs).toContain('timestamp set');
  });

  it('requires a non-empty resource on regular dispatches', () => {
    expect(invalid(base({ resource: [] })).status).toBe(Status.BadDispatch);
    expect(invalid(base({ resource: 'user' })).status).toBe(Status.BadDispatch);
    expect(valid(base({ resource: 'user' }), 'quirks').resource).toEqual(['user']);
    expect(invalid(base({ resource: [{}] })).status).toBe(Status.BadDispatch);
  });

  it('forbids an endpoint on regular dispatches and a resource on subscriptions', () => {
    expect(invalid(base({ endpoint: { method: 'GET', resource: ['a'] } })).status).toBe(Status.BadDispatch);
    const bind = { protocol: ['JSTP', '0.5'], method: 'BIND', timestamp: 1, endpoint: { method: 'GET', resource: ['a'] } };
    valid(bind);
    expect(invalid({ ...bind, resource: ['a'] }).status).toBe(Status.BadDispatch);
    expect(valid({ ...bind, resource: ['a'] }, 'quirks').resource).toBeUndefined();
  });

  it('validates the endpoint of BIND and RELEASE', () => {
    const bind = (endpoint: unknown) => ({ protocol: ['JSTP', '0.5'], method: 'BIND', timestamp: 1, endpoint });
    expect(valid(bind({ method: '*', resource: ['...'] })).endpoint).toEqual({ method: '*', resource: ['...'] });
    expect(valid(bind({ method: 'patch', resource: ['a', 1] })).endpoint).toEqual({ method: 'PATCH', resource: ['a', '1'] });
    expect(invalid(bind(undefined)).status).toBe(Status.BadDispatch);
    expect(invalid(bind({ method: 'BREW', resource: ['a'] })).status).toBe(Status.BadDispatch);
    expect(invalid(bind({ method: 'GET', resource: ['...', '...'] })).status).toBe(Status.BadDispatch);
    expect(valid(bind({ method: 'GET', resource: ['...', '...'] }), 'quirks').endpoint?.resource).toEqual(['...']);
  });

  it('validates answers and never makes an invalid answer answerable', () => {
    const answer = { protocol: ['JSTP', '0.5'], method: 'ANSWER', timestamp: 1, resource: [200, 'tx', 'tr'] };
    expect(valid(answer).resource).toEqual([200, 'tx', 'tr']);
    expect(valid({ ...answer, resource: [200, 'tx'] }).resource).toEqual([200, 'tx']);
    const noStatus = invalid({ ...answer, resource: ['ok', 'tx', 'tr'], token: ['tx'] });
    expect(noStatus.answerable).toBe(false);
    expect(invalid({ ...answer, host: [['a', 1, 'tcp']] }).status).toBe(Status.BadDispatch);
  });

  it('validates hosts', () => {
    expect(valid(base({ host: [['10.0.0.7', 33333, 'TCP']] })).host).toEqual([['10.0.0.7', 33333, 'tcp']]);
    expect(valid(base({ host: [] })).host).toBeUndefined();
    expect(invalid(base({ host: [['a', 70000, 'tcp']] })).status).toBe(Status.BadDispatch);
    expect(invalid(base({ host: ['a:1'] })).status).toBe(Status.BadDispatch);
  });

  it('rejects a token that is not one or two strings in strict mode, repairs in quirks', () => {
    expect(invalid(base({ token: 'x' })).status).toBe(Status.BadDispatch);
    expect(invalid(base({ token: ['a', 'b', 'c'] })).status).toBe(Status.BadDispatch);
    expect(invalid(base({ token: [5] })).status).toBe(Status.BadDispatch);
    expect(valid(base({ token: ['a', 'b', 'c'] }), 'quirks').token).toEqual(['a', 'b']);
    expect(valid(base({ token: [5] }), 'quirks').token).toEqual(['5']);
  });

  it('drops non-objects with no answer', () => {
    for (const raw of [null, 5, 'x', [1, 2]]) {
      const result = invalid(raw);
      expect(result.answerable).toBe(false);
    }
  });

  it('does not modify its input', () => {
    const raw = base({ Token: [], METHOD: undefined });
    const copy = structuredClone(raw);
    validateDispatch(raw, 'quirks');
    expect(raw).toEqual(copy);
  });
});

describe('dispatch construction', () => {
  it('builds regular dispatches and answers', () => {
    const d = createDispatch('PUT', ['a', 1], { body: 3, token: ['t'], timestamp: 9 });
    expect(d).toEqual({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'PUT', resource: ['a', 1], timestamp: 9, body: 3, token: ['t'] });
    expect(valid(JSON.parse(serializeDispatch(d)))).toEqual(d);
    const answer = createAnswer(404, 'tx', 'tr', { reason: 'none' });
    expect(answer.resource).toEqual([404, 'tx', 'tr']);
    expect(valid(JSON.parse(serializeDispatch(answer)))).toEqual(answer);
  });
});

describe('uuid fallback', () => {
  it('makes RFC 4122 version 4 UUIDs from getRandomValues where randomUUID is missing', async () => {
    const { uuidFromRandomValues } = await import('../../gateway/jstp/uuid.js');
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = uuidFromRandomValues();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
  });
});

describe('pristine dispatches', () => {
  const wireForm = { protocol: ['JSTP', '0.5'], method: 'PATCH', resource: ['a'], timestamp: 1, token: [] };
  const pristine = (raw: unknown, mode: 'strict' | 'quirks' = 'strict') => {
    const result = validateDispatch(raw, mode);
    return result.ok && result.pristine;
  };

  it('marks a regular dispatch already in its wire form', () => {
    expect(pristine(wireForm)).toBe(true);
    expect(pristine({ ...wireForm, token: ['tx'], body: { v: 1 }, 'x-extra': 2 })).toBe(true);
  });

  it('does not mark anything the engine would write differently', () => {
    expect(pristine({ ...wireForm, token: undefined })).toBe(false);
    expect(pristine({ ...wireForm, method: 'patch' })).toBe(false);
    expect(pristine({ ...wireForm, host: [['b', 1, 'tcp']] })).toBe(false);
    const { protocol, ...rest } = wireForm;
    expect(pristine({ ...rest, Protocol: protocol })).toBe(false);
    expect(pristine({ ...wireForm, resource: 'a' }, 'quirks')).toBe(false);
    expect(pristine({ protocol: ['JSTP', '0.5'], method: 'BIND', timestamp: 1, token: [], endpoint: { method: 'GET', resource: ['a'] } })).toBe(false);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Channel } from '../../gateway/jstp/channel.js';
import { createAnswer, createDispatch, serializeDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { AnswerError, Engine, type Incoming } from '../../gateway/jstp/engine.js';
import { ErrorCode, errors, PasarelaError } from '../../gateway/jstp/errors.js';

/** A channel that records what the engine sends it, as the wire would carry it. */
class RecordingChannel implements Channel {
  readonly sent: Dispatch[] = [];
  constructor(readonly id: string) {}
  send(dispatch: Dispatch): void {
    this.sent.push(JSON.parse(serializeDispatch(dispatch)));
  }
  answers(): Array<[number, string, string | undefined]> {
    return this.sent.filter((d) => d.method === 'ANSWER').map((d) => d.resource as [number, string, string | undefined]);
  }
  statuses(): number[] {
    return this.answers().map(([status]) => status);
  }
}

function wire(dispatch: Dispatch): unknown {
  return JSON.parse(serializeDispatch(dispatch));
}

function bindDispatch(method: string, resource: unknown[], extra: Record<string, unknown> = {}) {
  return { protocol: ['JSTP', '0.5'], method: 'BIND', timestamp: 1, endpoint: { method, resource }, ...extra };
}

let engines: Engine[] = [];
function newEngine(options: ConstructorParameters<typeof Engine>[0] = {}): Engine {
  const engine = new Engine(options);
  engines.push(engine);
  return engine;
}

afterEach(() => {
  for (const engine of engines) engine.close();
  engines = [];
  vi.useRealTimers();
});

describe('local API', () => {
  it('delivers a fire-and-forget dispatch to a bound handler with captures', () => {
    const engine = newEngine();
    const seen: Incoming[] = [];
    engine.bind({ method: 'PATCH', resource: ['devices', ':id', 'properties', ':prop'] }, (incoming) => {
      seen.push(incoming);
    });
    engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 21.5 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.params).toEqual({ id: 'kitchen', prop: 'temperature' });
    expect(seen[0]!.body).toEqual({ value: 21.5 });
    expect(seen[0]!.expectsAnswer).toBe(false);
    expect(seen[0]!.dispatch.token).toBeUndefined();
  });

  it('resolves a request with the first 200 answer and all() with every answer', async () => {
    const engine = newEngine();
    engine.bind({ method: 'GET', resource: ['gateway'] }, (incoming) => incoming.answer(403, 'no'));
    engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));
    const reply = engine.get(['gateway']);
    const first = await reply;
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ name: 'pasarela' });
    const all = await reply.all();
    expect(all.map((a) => a.status).sort()).toEqual([200, 403]);
    expect(new Set(all.map((a) => a.triggeringId)).size).toBe(2);
    expect(all.every((a) => a.transactionId === reply.transactionId)).toBe(true);
  });

  it('gives each triggered subscription its own triggering id', () => {
    const engine = newEngine();
    const tokens: Array<readonly string[] | undefined> = [];
    engine.bind({ method: '*', resource: ['...'] }, (incoming) => {
      tokens.push(incoming.dispatch.token);
    });
    engine.bind({ method: 'POST', resource: ['a', '*'] }, (incoming) => {
      tokens.push(incoming.dispatch.token);
    });
    const reply = engine.post(['a', 'b']);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]?.[0]).toBe(reply.transactionId);
    expect(tokens[1]?.[0]).toBe(reply.transactionId);
  });

  it('answers 404 when nothing is triggered', async () => {
    const engine = newEngine();
    const reply = engine.get(['nothing']);
    await expect(reply).rejects.toBeInstanceOf(AnswerError);
    await expect(reply).rejects.toMatchObject({ status: 404, code: ErrorCode.AnswerStatus });
    expect((await reply.all()).map((a) => a.status)).toEqual([404]);
    expect(engine.stats().transactions).toBe(0);
  });

  it('answers 504 per unanswered triggering id after the timeout, then completes', async () => {
    vi.useFakeTimers();
    const engine = newEngine({ answerTimeoutMs: 1000 });
    engine.bind({ method: 'GET', resource: ['slow'] }, () => undefined);
    engine.bind({ method: 'GET', resource: ['slow'] }, () => undefined);
    engine.bind({ method: 'GET', resource: ['*'] }, () => 'fast');
    const reply = engine.get(['slow']);
    const all = reply.all();
    expect(engine.stats().pendingTriggers).toBe(2);
    vi.advanceTimersByTime(999);
    expect(reply.isDone).toBe(false);
    vi.advanceTimersByTime(1);
    const statuses = (await all).map((a) => a.status);
    expect(statuses.sort()).toEqual([200, 504, 504]);
    expect(engine.stats()).toMatchObject({ transactions: 0, pendingTriggers: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('turns a throwing or rejecting handler into a 500 answer', async () => {
    const engine = newEngine();
    engine.bind({ method: 'POST', resource: ['sync'] }, () => {
      throw new Error('boom');
    });
    engine.bind({ method: 'POST', resource: ['async'] }, async () => {
      throw new Error('later');
    });
    await expect(engine.post(['sync'])).rejects.toMatchObject({ status: 500 });
    const answers = await engine.post(['async']).all();
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ status: 500, body: { error: 'later' } });
  });

  it('uses the status of a PasarelaError thrown by a handler', async () => {
    const engine = newEngine();
    engine.bind({ method: 'PUT', resource: ['ro'] }, () => {
      throw errors.readOnly('read-only');
    });
    await expect(engine.put(['ro'], 1)).rejects.toMatchObject({ status: 403 });
  });

  it('answers once per trigger and ignores answers without a transaction', async () => {
    const engine = newEngine();
    engine.bind({ method: 'GET', resource: ['x'] }, (incoming) => {
      incoming.answer(200, 1);
      incoming.answer(200, 2);
      return 3;
    });
    expect((await engine.get(['x']).all()).map((a) => a.body)).toEqual([1]);
    expect(() => engine.emit('GET', ['x'])).not.toThrow();
  });

  it('unbinds', () => {
    const engine = newEngine();
    const handler = vi.fn();
    const unbind = engine.bind({ method: 'PATCH', resource: ['a'] }, handler);
    engine.emit('PATCH', ['a']);
    unbind();
    engine.emit('PATCH', ['a']);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(engine.stats().subscriptions).toBe(0);
  });

  it('binds the same handler to the same endpoint only once', () => {
    const engine = newEngine();
    const handler = vi.fn();
    engine.bind({ method: 'patch', resource: ['a'] }, handler);
    engine.bind({ method: 'PATCH', resource: ['a'] }, handler);
    engine.emit('PATCH', ['a']);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('throws a coded error for an illegal pattern in strict mode and repairs it in quirks mode', () => {
    expect(() => newEngine().bind({ method: 'GET', resource: ['...', '...'] }, () => 1)).toThrow(
      expect.objectContaining({ code: ErrorCode.BadPattern }),
    );
    const quirky = newEngine({ mode: 'quirks' });
    const handler = vi.fn();
    quirky.bind({ method: 'GET', resource: ['...', '...'] }, handler);
    quirky.emit('GET', ['a', 'b']);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('runs 100k complete transactions and ends with empty tables and pending maps', async () => {
    const engine = newEngine();
    engine.bind({ method: 'GET', resource: ['counter', ':n'] }, (incoming) => incoming.params.n);
    let answers = 0;
    for (let i = 0; i < 100_000; i++) {
      const all = await engine.get(['counter', i]).all();
      answers += all.length;
    }
    expect(answers).toBe(100_000);
    expect(engine.stats()).toMatchObject({ subscriptions: 1, transactions: 0, pendingTriggers: 0 });
  });

  it('fails pending replies and clears every timer on close', async () => {
    vi.useFakeTimers();
    const engine = newEngine();
    engine.bind({ method: 'GET', resource: ['never'] }, () => undefined);
    const reply = engine.get(['never']);
    expect(vi.getTimerCount()).toBe(1);
    engine.close();
    expect(vi.getTimerCount()).toBe(0);
    await expect(reply).rejects.toMatchObject({ code: ErrorCode.EngineClosed });
    expect(() => engine.get(['never'])).toThrow(expect.objectContaining({ code: ErrorCode.EngineClosed }));
  });
});

describe('channels', () => {
  it('makes a channel that BINDs a subscriber, and releases it on detach', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.receive(bindDispatch('PATCH', ['devices', '*', 'properties', 'temperature']), peer);
    engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 20 });
    engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'humidity'], { value: 50 });
    expect(peer.sent).toHaveLength(1);
    expect(peer.sent[0]).toMatchObject({ method: 'PATCH', body: { value: 20 }, token: [] });
    expect(engine.stats().subscriptions).toBe(1);
    engine.detach(peer);
    expect(engine.stats().subscriptions).toBe(0);
  });

  it('binds once per channel and endpoint, and answers a BIND that carries a transaction id', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.receive(bindDispatch('GET', ['a'], { token: ['t1'] }), peer);
    engine.receive(bindDispatch('GET', ['a'], { token: ['t2'] }), peer);
    expect(engine.stats().subscriptions).toBe(1);
    // A 0.5 peer gets no 101 (it would read it as one more answer).
    expect(peer.statuses()).toEqual([200, 200]);
  });

  it('closes answer sets with 101 only for peers that speak 0.6 or are Pasarela', () => {
    const engine = newEngine();
    engine.bind({ method: 'GET', resource: ['x'] }, () => 1);
    const old = new RecordingChannel('0.5');
    const newer = new RecordingChannel('0.6');
    const raw = (protocol: string[], token: string) => ({ protocol, method: 'GET', resource: ['x'], timestamp: 1, token: [token] });
    engine.receive(raw(['JSTP', '0.5'], 'a'), old);
    engine.receive(raw(['JSTP', '0.6'], 'b'), newer);
    expect(old.statuses()).toEqual([200]);
    expect(newer.statuses()).toEqual([200, 101]);
  });

  it('RELEASE removes, and a RELEASE that matches nothing gets 406', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.receive(bindDispatch('GET', ['a']), peer);
    const release = { ...bindDispatch('GET', ['a']), method: 'RELEASE', token: ['r1'] };
    engine.receive(release, peer);
    expect(engine.stats().subscriptions).toBe(0);
    engine.receive({ ...release, token: ['r2'] }, peer);
    expect(peer.answers()).toEqual([
      [200, 'r1', expect.any(String)],
      [406, 'r2', expect.any(String)],
    ]);
  });

  it('never delivers a dispatch back to the channel it came from', () => {
    const engine = newEngine();
    const a = new RecordingChannel('a');
    const b = new RecordingChannel('b');
    engine.receive(bindDispatch('PATCH', ['...']), a);
    engine.receive(bindDispatch('PATCH', ['...']), b);
    engine.receive(wire(createDispatch('PATCH', ['x'], { body: 1 })), a);
    expect(a.sent).toHaveLength(0);
    expect(b.sent).toHaveLength(1);
  });

  it('answers a remote request on the channel that brought it, then closes the set with 101', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));
    engine.receive(wire(createDispatch('GET', ['gateway'], { token: ['tx-1'] })), peer);
    expect(peer.answers()).toEqual([
      [200, 'tx-1', expect.any(String)],
      [101, 'tx-1', expect.any(String)],
    ]);
    expect(peer.sent[0]!.body).toEqual({ name: 'pasarela' });
    expect(engine.stats().transactions).toBe(0);
  });

  it('answers 404 to a remote request that triggers nothing', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.receive(wire(createDispatch('GET', ['missing'], { token: ['tx'] })), peer);
    expect(peer.statuses()).toEqual([404, 101]);
  });

  it('keeps the triggering id an upstream engine gave', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.bind({ method: 'GET', resource: ['a'] }, () => 1);
    engine.receive(wire(createDispatch('GET', ['a'], { token: ['tx', 'trig-up'] })), peer);
    expect(peer.answers()).toEqual([
      [200, 'tx', 'trig-up'],
      [101, 'tx', 'trig-up'],
    ]);
  });

  it('relays between channels: a request from A answered by subscriber B', () => {
    const engine = newEngine();
    const a = new RecordingChannel('a');
    const b = new RecordingChannel('b');
    engine.receive(bindDispatch('GET', ['robot', '...']), b);
    engine.receive(wire(createDispatch('GET', ['robot', 'battery'], { token: ['tx-a'] })), a);
    expect(b.sent).toHaveLength(1);
    const [tx, trig] = b.sent[0]!.token as [string, string];
    expect(tx).toBe('tx-a');
    expect(trig).toEqual(expect.any(String));
    // B is a Pasarela engine: it answers, then closes its set with 101.
    engine.receive(wire(createAnswer(200, tx, trig, 87)), b);
    expect(a.answers()).toEqual([[200, 'tx-a', trig]]);
    expect(a.sent[0]!.body).toBe(87);
    engine.receive(wire(createAnswer(101, tx, trig)), b);
    expect(a.statuses()).toEqual([200, 101]);
    expect(engine.stats()).toMatchObject({ transactions: 0, pendingTriggers: 0 });
  });

  it('ends a remote trigger at the first answer of an engine that sends no 101', () => {
    const engine = newEngine();
    const client = new RecordingChannel('client');
    const nodeJstp = new RecordingChannel('node-jstp');
    engine.receive(bindDispatch('GET', ['...']), nodeJstp);
    engine.receive(wire(createDispatch('GET', ['x'], { token: ['tx'] })), client);
    const [, trig] = nodeJstp.sent[0]!.token as [string, string];
    engine.receive({ protocol: ['JSTP', '0.4'], method: 'ANSWER', resource: [200, 'tx', trig], timestamp: 1, token: [], body: {} }, nodeJstp);
    expect(client.statuses()).toEqual([200, 101]);
  });

  it('accepts answers for a triggering id only from the channel it was sent to', () => {
    const engine = newEngine();
    const a = new RecordingChannel('a');
    const b = new RecordingChannel('b');
    const intruder = new RecordingChannel('intruder');
    engine.receive(bindDispatch('GET', ['x']), b);
    engine.receive(wire(createDispatch('GET', ['x'], { token: ['tx'] })), a);
    const [, trig] = b.sent[0]!.token as [string, string];
    engine.receive(wire(createAnswer(200, 'tx', trig, 'forged')), intruder);
    expect(a.sent).toHaveLength(0);
  });

  it('answers 502 for a forwarded dispatch whose outbound channel closes, and takes answers only from it', async () => {
    const out = new RecordingChannel('out');
    const other = new RecordingChannel('other');
    const engine = newEngine({ forwarder: async () => out });
    const reply = engine.get(['x'], undefined, { host: [['b', 1, 'tcp']] });
    await Promise.resolve();
    expect(engine.pendingOn(out)).toBe(1);
    engine.receive(wire(createAnswer(200, reply.transactionId, 'forged', 'x')), other);
    expect(reply.answers).toHaveLength(0);
    engine.detach(out);
    expect((await reply.all()).map((a) => a.status)).toEqual([502]);
    expect(engine.pendingOn(out)).toBe(0);
  });

  it('answers 502 for triggers waiting on a channel that closes', async () => {
    const engine = newEngine();
    const b = new RecordingChannel('b');
    engine.receive(bindDispatch('GET', ['x']), b);
    const reply = engine.get(['x']);
    engine.detach(b);
    expect((await reply.all()).map((a) => a.status)).toEqual([502]);
  });

  it('forgets transactions whose origin channel closed, clearing their timers', () => {
    vi.useFakeTimers();
    const engine = newEngine();
    const a = new RecordingChannel('a');
    engine.bind({ method: 'GET', resource: ['x'] }, () => undefined);
    engine.receive(wire(createDispatch('GET', ['x'], { token: ['tx'] })), a);
    expect(engine.stats().transactions).toBe(1);
    engine.detach(a);
    expect(engine.stats()).toMatchObject({ transactions: 0, pendingTriggers: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers 400 to a reused transaction id (a forwarding loop looks like this)', () => {
    const engine = newEngine();
    const a = new RecordingChannel('a');
    engine.bind({ method: 'GET', resource: ['x'] }, () => undefined);
    engine.receive(wire(createDispatch('GET', ['x'], { token: ['tx'] })), a);
    engine.receive(wire(createDispatch('GET', ['x'], { token: ['tx'] })), a);
    expect(a.statuses()).toEqual([400, 101]);
  });

  it('answers invalid dispatches that carry a transaction id and drops the others', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 1, token: ['t1'] }, peer);
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'BREW', resource: ['x'], timestamp: 1, token: ['t2'] }, peer);
    engine.receive({ protocol: ['JSTP', '7.0'], method: 'GET', resource: ['x'], timestamp: 1, token: ['t3'] }, peer);
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'GET', timestamp: 1 }, peer);
    engine.receive('not an object', peer);
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: ['bad'], timestamp: 1, token: ['t4'] }, peer);
    expect(peer.answers().filter(([s]) => s !== 101)).toEqual([
      [400, 't1', expect.any(String)],
      [405, 't2', expect.any(String)],
      [505, 't3', expect.any(String)],
    ]);
    expect(engine.stats().invalid).toBe(6);
  });

  it('lets a BIND trigger subscribers of BIND', () => {
    const engine = newEngine();
    const seen: unknown[] = [];
    engine.bind({ method: 'BIND', resource: ['devices', '...'] }, (incoming) => {
      seen.push(incoming.resource);
    });
    engine.receive(bindDispatch('PATCH', ['devices', '*', 'properties', 'temperature']), new RecordingChannel('p'));
    expect(seen).toEqual([['devices', '*', 'properties', 'temperature']]);
  });
});

describe('forwarding hook', () => {
  it('answers 506 by default to a dispatch with a host', async () => {
    const engine = newEngine();
    engine.bind({ method: 'GET', resource: ['x'] }, () => 'local');
    const reply = engine.get(['x'], undefined, { host: [['10.0.0.7', 33333, 'tcp']] });
    await expect(reply).rejects.toMatchObject({ status: 506 });
  });

  it('hands the dispatch to the forwarder with the first hop removed and routes answers back', async () => {
    const calls: Array<{ dispatch: Dispatch; hop: unknown }> = [];
    const hopChannel = new RecordingChannel('hop');
    const engine = newEngine({
      forwarder: async (dispatch, hop) => {
        calls.push({ dispatch, hop });
        return hopChannel;
      },
    });
    const reply = engine.get(['x'], 'q', { host: [['b', 1, 'tcp'], ['c', 2, 'ws']] });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.hop).toEqual(['b', 1, 'tcp']);
    // The forwarder only picks the channel: the engine sends on it.
    await vi.waitFor(() => expect(hopChannel.sent).toHaveLength(1));
    expect(hopChannel.sent[0]!.host).toEqual([['c', 2, 'ws']]);
    expect(hopChannel.sent[0]!.token).toEqual([reply.transactionId]);
    engine.receive(wire(createAnswer(200, reply.transactionId, 'far', 'remote')), hopChannel);
    expect((await reply).body).toBe('remote');
    engine.receive(wire(createAnswer(101, reply.transactionId, 'far')), hopChannel);
    expect((await reply.all()).map((a) => a.status)).toEqual([200]);
    expect(engine.stats().transactions).toBe(0);
  });

  it('answers with the status of a failed forward', async () => {
    const engine = newEngine({
      forwarder: async () => {
        throw errors.unknownTransport('carrier-pigeon');
      },
    });
    await expect(engine.get(['x'], undefined, { host: [['b', 1, 'carrier-pigeon']] })).rejects.toMatchObject({ status: 409 });
  });

  it('relays forwarded answers to a remote origin', async () => {
    const a = new RecordingChannel('a');
    const c = new RecordingChannel('c');
    const engine = newEngine({ forwarder: () => c });
    engine.receive(wire(createDispatch('GET', ['x'], { token: ['tx'], host: [['c', 1, 'tcp']] })), a);
    const forwarded = c.sent[0];
    expect(forwarded?.host).toBeUndefined();
    expect(forwarded?.token).toEqual(['tx']);
    engine.receive(wire(createAnswer(200, 'tx', 'from-c', 'hello')), c);
    engine.receive(wire(createAnswer(101, 'tx', 'from-c')), c);
    expect(a.answers()).toEqual([
      [200, 'tx', 'from-c'],
      [101, 'tx', expect.any(String)],
    ]);
  });
});

describe('pipeline hooks', () => {
  it('runs inbound hooks on channel dispatches and outbound hooks before every send', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    const seen: string[] = [];
    const remove = engine.use({
      name: 'tagger',
      inbound: (dispatch, from) => {
        seen.push(`in ${dispatch.method} ${from?.id}`);
        return dispatch.resource?.[0] === 'secret' ? { drop: 'secret' } : { ...dispatch, 'x-seen': true };
      },
      outbound: (dispatch, to) => {
        seen.push(`out ${dispatch.method} ${to.id}`);
        return { ...dispatch, 'x-signed': 'sig' };
      },
    });
    const handler = vi.fn((incoming: Incoming) => incoming.dispatch['x-seen']);
    engine.bind({ method: 'GET', resource: ['...'] }, handler);
    engine.receive(wire(createDispatch('GET', ['secret'], { token: ['t0'] })), peer);
    expect(handler).not.toHaveBeenCalled();
    engine.receive(wire(createDispatch('GET', ['open'], { token: ['t1'] })), peer);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(peer.sent[0]).toMatchObject({ method: 'ANSWER', body: true, 'x-signed': 'sig' });
    expect(seen).toEqual(['in GET peer', 'in GET peer', 'out ANSWER peer', 'out ANSWER peer']);
    remove();
    engine.receive(wire(createDispatch('GET', ['secret'], { token: ['t2'] })), peer);
    expect(handler).toHaveBeenCalledTimes(2);
  });

  it('drops a dispatch whose hook throws, without crashing', () => {
    const engine = newEngine();
    const peer = new RecordingChannel('peer');
    engine.use({
      name: 'broken',
      inbound: () => {
        throw new Error('bad hook');
      },
    });
    const handler = vi.fn();
    engine.bind({ method: 'PATCH', resource: ['a'] }, handler);
    expect(() => engine.receive(wire(createDispatch('PATCH', ['a'])), peer)).not.toThrow();
    expect(handler).not.toHaveBeenCalled();
  });
});

describe('relaying the text a dispatch came in', () => {
  /** A channel that keeps the exact text it would write. */
  class TextChannel implements Channel {
    readonly texts: string[] = [];
    constructor(readonly id: string) {}
    send(dispatch: Dispatch, text?: string): void {
      this.texts.push(text ?? serializeDispatch(dispatch));
    }
  }

  it('writes a pristine dispatch to subscribers exactly as it arrived, its trace added at the end', () => {
    const engine = newEngine();
    const subscriber = new TextChannel('subscriber');
    engine.receive(bindDispatch('PATCH', ['devices', '...']), subscriber);
    // Spacing and key order no encoder of ours would produce: proof that it is the original.
    const text = '{ "protocol":["JSTP","0.5"], "method":"PATCH", "token":[], "resource":["devices","d1"], "timestamp":5, "body":{"value":1} }';
    engine.receive(JSON.parse(text), new RecordingChannel('publisher'), text);
    expect(subscriber.texts).toEqual([`${text.slice(0, -1)},"via":["${engine.id}"]}`]);
  });

  it('encodes anew what changed on the way or was not pristine', () => {
    const engine = newEngine();
    const subscriber = new TextChannel('subscriber');
    engine.receive(bindDispatch('*', ['devices', '...']), subscriber);
    const publisher = new RecordingChannel('publisher');
    const texts = [
      // A transaction: the subscriber gets its own token.
      '{"protocol":["JSTP","0.5"],"method":"GET","token":["tx"],"resource":["devices","d1"],"timestamp":5}',
      // No token header: node-jstp needs one, so it is written.
      '{"protocol":["JSTP","0.5"],"method":"PATCH","resource":["devices","d2"],"timestamp":5}',
      // A method in lower case is written in upper case.
      '{"protocol":["JSTP","0.5"],"method":"patch","token":[],"resource":["devices","d3"],"timestamp":5}',
    ];
    for (const text of texts) engine.receive(JSON.parse(text), publisher, text);
    expect(subscriber.texts).toHaveLength(3);
    for (const [index, written] of subscriber.texts.entries()) expect(written).not.toBe(texts[index]);
    expect(JSON.parse(subscriber.texts[0]!).token).toEqual(['tx', expect.any(String)]);
    expect(JSON.parse(subscriber.texts[1]!).token).toEqual([]);
    expect(JSON.parse(subscriber.texts[2]!).method).toBe('PATCH');
  });
});

/**
 * The `via` trace (docs/protocol-decisions.md, "No loops"): an engine writes its id
 * into every dispatch it delivers to another engine, and drops a dispatch that comes
 * back with its id in it. Engines here are joined by in-memory links that carry JSON
 * text, one task later, as a socket would.
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from '../../gateway/jstp/channel.js';
import { serializeDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { Status } from '../../gateway/jstp/errors.js';
import { until } from '../support/until.js';

/** One end of a link: what is sent here is received by `remote` on the other end. */
class LinkEnd implements Channel {
  other!: LinkEnd;
  sent = 0;
  constructor(readonly id: string, readonly engine: Engine) {}
  send(dispatch: Dispatch): void {
    this.sent++;
    const text = serializeDispatch(dispatch);
    setImmediate(() => this.other.engine.receive(JSON.parse(text), this.other, text));
  }
}

function link(a: Engine, b: Engine, name: string): [LinkEnd, LinkEnd] {
  const atA = new LinkEnd(`${name}@a`, a);
  const atB = new LinkEnd(`${name}@b`, b);
  atA.other = atB;
  atB.other = atA;
  return [atA, atB];
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

/** `subscriber` binds `endpoint` at `publisher` over `channel` (the publisher's end of a link). */
function bindAt(publisher: Engine, channel: LinkEnd, resource: string[]): void {
  publisher.receive({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'BIND', endpoint: { method: 'PATCH', resource }, timestamp: 1, token: [] }, channel);
}

function counter(engine: Engine, resource: string[]): { count: number } {
  const seen = { count: 0 };
  engine.bind({ method: 'PATCH', resource }, () => {
    seen.count++;
  });
  return seen;
}

describe('the via trace', () => {
  it('names the engine in what it delivers to another engine, not in what its local handlers see', async () => {
    const a = new Engine();
    const b = new Engine();
    const [toB] = link(a, b, 'ab');
    bindAt(a, toB, ['x']);
    const seenAtB: Dispatch[] = [];
    b.bind({ method: 'PATCH', resource: ['x'] }, (incoming) => {
      seenAtB.push(incoming.dispatch);
    });
    const local: Dispatch[] = [];
    a.bind({ method: 'PATCH', resource: ['x'] }, (incoming) => {
      local.push(incoming.dispatch);
    });
    a.emit('PATCH', ['x'], 1);
    await until(() => seenAtB.length === 1, 'the delivery at B');
    expect(seenAtB[0]!.via).toEqual([a.id]);
    expect(local[0]!.via).toBeUndefined();
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(new Engine().id).not.toBe(a.id);
  });

  it('A and B bound at each other over two links: each subscriber gets a PATCH exactly once', async () => {
    const a = new Engine();
    const b = new Engine();
    // B's subscription at A rides one link, A's at B another: no channel to skip.
    const [aToB] = link(a, b, 'one');
    const [, bToA] = link(a, b, 'two');
    bindAt(a, aToB, ['x']);
    bindAt(b, bToA, ['x']);
    const atA = counter(a, ['x']);
    const atB = counter(b, ['x']);
    a.emit('PATCH', ['x'], 1);
    await settle();
    expect([atA.count, atB.count]).toEqual([1, 1]);
    expect(a.stats().looped).toBe(1);
    expect(aToB.sent + bToA.sent).toBe(2);
  });

  it('A -> B -> C -> A: around the ring once, then dropped where it started', async () => {
    const [a, b, c] = [new Engine(), new Engine(), new Engine()];
    // "X bound at Y": Y delivers to X.
    const [cAtA] = link(a, c, 'ca');
    const [bAtC] = link(c, b, 'bc');
    const [aAtB] = link(b, a, 'ab');
    bindAt(a, cAtA, ['x']);
    bindAt(c, bAtC, ['x']);
    bindAt(b, aAtB, ['x']);
    const counts = [a, b, c].map((engine) => counter(engine, ['x']));
    a.emit('PATCH', ['x'], 1);
    await settle();
    expect(counts.map((seen) => seen.count)).toEqual([1, 1, 1]);
    expect([a, b, c].map((engine) => engine.stats().looped)).toEqual([1, 0, 0]);
  });

  it('a looping request ends at once: 101 closes the looped part, the answers that exist arrive', async () => {
    const a = new Engine({ answerTimeoutMs: 5_000 });
    const b = new Engine({ answerTimeoutMs: 5_000 });
    const [aToB] = link(a, b, 'one');
    const [, bToA] = link(a, b, 'two');
    a.receive({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'BIND', endpoint: { method: 'GET', resource: ['x'] }, timestamp: 1, token: [] }, aToB);
    b.receive({ protocol: ['JSTP', '0.5', 'pasarela'], method: 'BIND', endpoint: { method: 'GET', resource: ['x'] }, timestamp: 1, token: [] }, bToA);
    a.bind({ method: 'GET', resource: ['x'] }, () => 'from a');
    b.bind({ method: 'GET', resource: ['x'] }, () => 'from b');
    const started = Date.now();
    const answers = await a.get(['x']).all();
    expect(answers.map((answer) => [answer.status, answer.body]).sort()).toEqual([[200, 'from a'], [200, 'from b']]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(a.stats().looped).toBe(1);
  });

  it('a looped request from an engine without 101 is answered 404', () => {
    const a = new Engine();
    const sent: Dispatch[] = [];
    const peer: Channel = { id: 'node-jstp', send: (dispatch) => void sent.push(dispatch) };
    a.receive({ protocol: ['JSTP', '0.4'], method: 'GET', resource: ['x'], timestamp: 1, token: ['tx', 'tr'], via: ['other', a.id] }, peer);
    expect(sent.map((dispatch) => dispatch.resource?.[0])).toEqual([Status.NotFound]);
    expect(a.stats().looped).toBe(1);
  });

  it('a dispatch still on its host route passes an engine it went through before', () => {
    const a = new Engine();
    const hops: unknown[] = [];
    a.setForwarder((_dispatch, hop) => {
      hops.push(hop);
      return { id: 'next', send: () => {} };
    });
    const peer: Channel = { id: 'peer', send: () => {} };
    a.receive({ protocol: ['JSTP', '0.5'], method: 'PATCH', resource: ['x'], timestamp: 1, token: [], via: [a.id], host: [['10.0.0.9', 1, 'tcp']] }, peer);
    expect(hops).toEqual([['10.0.0.9', 1, 'tcp']]);
    expect(a.stats().looped).toBe(0);
  });

  it('keeps a header named __proto__ a header when it adds the trace', () => {
    const a = new Engine();
    const sent: Dispatch[] = [];
    const subscriber: Channel = { id: 'sub', send: (dispatch) => void sent.push(dispatch) };
    a.receive({ protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method: 'PATCH', resource: ['x'] }, timestamp: 1, token: [] }, subscriber);
    a.receive(JSON.parse('{"protocol":["JSTP","0.5"],"method":"PATCH","resource":["x"],"timestamp":1,"token":[],"__proto__":{"polluted":true}}'), { id: 'pub', send: () => {} });
    expect(Object.getPrototypeOf(sent[0])).toBe(Object.prototype);
    expect(Object.hasOwn(sent[0]!, '__proto__')).toBe(true);
    expect(sent[0]!.via).toEqual([a.id]);
  });

  it('appends to a trace that others started, and keeps it out of the relayed text only when it must re-encode', async () => {
    const a = new Engine();
    const texts: string[] = [];
    const subscriber: Channel = { id: 'sub', send: (dispatch, text) => void texts.push(text ?? serializeDispatch(dispatch)) };
    a.receive({ protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method: 'PATCH', resource: ['x'] }, timestamp: 1, token: [] }, subscriber);
    const publisher: Channel = { id: 'pub', send: () => {} };
    const fresh = '{"protocol":["JSTP","0.5"],"method":"PATCH","resource":["x"],"timestamp":1,"token":[]}';
    a.receive(JSON.parse(fresh), publisher, fresh);
    const relayed = '{"protocol":["JSTP","0.5"],"method":"PATCH","resource":["x"],"timestamp":2,"token":[],"via":["b1"]}';
    a.receive(JSON.parse(relayed), publisher, relayed);
    expect(texts[0]).toBe(`${fresh.slice(0, -1)},"via":["${a.id}"]}`);
    expect(JSON.parse(texts[1]!).via).toEqual(['b1', a.id]);
  });
});

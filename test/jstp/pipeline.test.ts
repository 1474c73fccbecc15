/**
 * The pipeline's own promises beyond the stage contract: no microtask for a
 * synchronous stage, order per channel with independent channels, outbound in
 * reverse order, a peer's requests, and answers that a stage or a channel refuses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../gateway/jstp/channel.js';
import { createAnswer, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine, type Stage } from '../../gateway/jstp/engine.js';
import { ErrorCode, Status } from '../../gateway/jstp/errors.js';
import { RecordingChannel } from '../support/stage-contract.js';
import { until } from '../support/until.js';

let engines: Engine[] = [];
function newEngine(): Engine {
  const engine = new Engine({ answerTimeoutMs: 1_000 });
  engines.push(engine);
  return engine;
}
afterEach(() => {
  for (const engine of engines) engine.close();
  engines = [];
});

function patch(resource: string[], body: unknown): Record<string, unknown> {
  return { protocol: ['JSTP', '0.5'], method: 'PATCH', token: [], resource, timestamp: 1, body };
}

function bind(method: string, resource: string[]): Record<string, unknown> {
  return { protocol: ['JSTP', '0.5'], method: 'BIND', token: [], timestamp: 1, endpoint: { method, resource } };
}

/** A deferred promise per call, released by the test. */
function gate() {
  const waiting: Array<() => void> = [];
  return {
    wait: () => new Promise<void>((resolve) => waiting.push(resolve)),
    release: () => waiting.shift()?.(),
    get pending() {
      return waiting.length;
    },
  };
}

describe('the pipeline', () => {
  it('runs a synchronous stage without a microtask: the handler is called inside receive()', () => {
    const engine = newEngine();
    engine.use({ name: 'sync', inbound: (d) => d, outbound: (d) => d });
    let called = false;
    engine.bind({ method: 'PATCH', resource: ['a'] }, () => {
      called = true;
    });
    engine.receive(patch(['a'], 1), new RecordingChannel('p'));
    expect(called).toBe(true);
    const subscriber = new RecordingChannel('s');
    engine.receive(bind('PATCH', ['a']), subscriber);
    engine.emit('PATCH', ['a'], 2);
    expect(subscriber.sent).toHaveLength(1);
  });

  it('keeps the order of a channel behind a slow async stage, without holding up other channels', async () => {
    const engine = newEngine();
    const slow = gate();
    engine.use({
      name: 'slow-for-a',
      inbound: async (d, from) => {
        if (from?.id === 'a' && (d.body as { n: number }).n === 0) await slow.wait();
        return d;
      },
    });
    const order: string[] = [];
    engine.bind({ method: 'PATCH', resource: ['x'] }, (incoming) => {
      const body = incoming.body as { n: number };
      order.push(`${incoming.from?.id}${body.n}`);
    });
    const a = new RecordingChannel('a');
    const b = new RecordingChannel('b');
    for (let n = 0; n < 3; n++) engine.receive(patch(['x'], { n }), a);
    for (let n = 0; n < 3; n++) engine.receive(patch(['x'], { n }), b);
    await until(() => order.length === 3, "b's dispatches delivered");
    // a0 waits on the stage; a1 and a2 wait behind it; b is not held up.
    expect(order).toEqual(['b0', 'b1', 'b2']);
    slow.release();
    await until(() => order.length === 6, "a's dispatches delivered");
    expect(order).toEqual(['b0', 'b1', 'b2', 'a0', 'a1', 'a2']);
  });

  it('keeps the order toward a channel behind an async outbound stage: answers, then 101', async () => {
    const engine = newEngine();
    engine.use({
      name: 'jitter',
      outbound: async (d) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
        return d;
      },
    });
    engine.bind({ method: 'GET', resource: ['x'] }, () => 'first');
    engine.bind({ method: 'GET', resource: ['x'] }, () => 'second');
    const caller = new RecordingChannel('caller');
    engine.receive({ protocol: ['JSTP', '0.6'], method: 'GET', token: ['tx'], resource: ['x'], timestamp: 1 }, caller);
    await until(() => caller.sent.length === 3, 'two answers and 101');
    expect(caller.sent.map((d) => d.resource![0])).toEqual([200, 200, 101]);
    expect(caller.sent.map((d) => d.body)).toEqual(['first', 'second', undefined]);
  });

  it('runs outbound stages in the reverse order of inbound ones', () => {
    const engine = newEngine();
    const trace: string[] = [];
    const stage = (name: string): Stage => ({
      name,
      inbound: (d) => {
        trace.push(`in ${name}`);
        return d;
      },
      outbound: (d) => {
        trace.push(`out ${name}`);
        return d;
      },
    });
    engine.use(stage('first'));
    engine.use(stage('second'));
    engine.bind({ method: 'GET', resource: ['x'] }, () => 'ok');
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'GET', token: ['t'], resource: ['x'], timestamp: 1 }, new RecordingChannel('c'));
    expect(trace).toEqual(['in first', 'in second', 'out second', 'out first']);
  });

  it('tells stages when a channel detaches, after its subscriptions are released', () => {
    const engine = newEngine();
    const told: Array<[string, number]> = [];
    engine.use({ name: 'per-channel', detached: (channel) => told.push([channel.id, engine.stats().subscriptions]) });
    engine.use({
      name: 'broken',
      detached: () => {
        throw new Error('boom');
      },
    });
    const peer = new RecordingChannel('peer');
    engine.receive(bind('PATCH', ['x']), peer);
    expect(engine.stats().subscriptions).toBe(1);
    expect(() => engine.detach(peer)).not.toThrow();
    expect(told).toEqual([['peer', 0]]);
  });

  it('stops applying a stage once it is removed', () => {
    const engine = newEngine();
    const remove = engine.use({ name: 'blocker', inbound: () => ({ drop: 'blocked' }) });
    const seen: unknown[] = [];
    engine.bind({ method: 'PATCH', resource: ['x'] }, (incoming) => {
      seen.push(incoming.body);
    });
    engine.emit('PATCH', ['x'], 1);
    remove();
    engine.emit('PATCH', ['x'], 2);
    expect(seen).toEqual([2]);
    expect(engine.stages).toEqual([]);
  });

  it('lets the other subscribers answer when a stage drops the copy going to one', async () => {
    const engine = newEngine();
    const granted = new RecordingChannel('granted');
    const refused = new RecordingChannel('refused');
    engine.use({ name: 'grants', outbound: (d, to) => (to === refused && d.method === 'GET' ? { drop: 'not granted' } : d) });
    engine.receive(bind('GET', ['x']), granted);
    engine.receive(bind('GET', ['x']), refused);
    const reply = engine.get(['x']);
    expect(refused.sent).toHaveLength(0);
    const [transactionId, triggeringId] = granted.sent[0]!.token as [string, string];
    engine.receive({ ...createAnswer(200, transactionId, triggeringId, 'from granted'), protocol: ['JSTP', '0.5'], token: [] }, granted);
    expect((await reply.all()).map((a) => [a.status, a.body])).toEqual([[200, 'from granted']]);
  });

  it('answers a local request with the status of an inbound answer verdict, and rejects a dropped one', async () => {
    const engine = newEngine();
    engine.use({
      name: 'auth',
      inbound: (d) => {
        if (d.resource?.[0] === 'secret') return { answer: Status.Unauthorized, reason: 'sign it' };
        if (d.resource?.[0] === 'void') return { drop: 'nobody home' };
        return d;
      },
    });
    engine.bind({ method: 'GET', resource: ['*'] }, () => 'open');
    await expect(engine.get(['open'])).resolves.toMatchObject({ status: 200, body: 'open' });
    await expect(engine.get(['secret'])).rejects.toMatchObject({ status: 401 });
    await expect(engine.get(['void'])).rejects.toMatchObject({ code: ErrorCode.Dropped, message: expect.stringContaining('auth') });
    expect(engine.stats().stopped).toBe(2);
    expect(engine.stats().transactions).toBe(0);
  });

  it('puts an answer verdict\'s details in the answer\'s body, beside the reason, remote, local and outbound', async () => {
    const engine = newEngine();
    const refuse = { answer: Status.InvalidHost, reason: 'drains', details: { code: 'X', redirect: ['tcp://b:1'], reason: 'not this one' } };
    engine.use({ name: 'drain', inbound: (d) => (d.resource?.[0] === 'kv' ? refuse : d), outbound: (d, to) => (to.id === 'far' && d.method === 'GET' ? refuse : d) });
    engine.bind({ method: 'GET', resource: ['kv'] }, () => 'served');
    const peer = new RecordingChannel('peer');
    engine.receive({ protocol: ['JSTP', '0.6', 'pasarela'], method: 'GET', token: ['t1'], resource: ['kv'], timestamp: 1 }, peer);
    const answer = peer.sent.find((d) => d.method === 'ANSWER' && d.resource![0] === 503)!;
    // The stage's reason wins over one in the details.
    expect(answer.body).toEqual({ code: 'X', redirect: ['tcp://b:1'], reason: 'drains' });
    await expect(engine.get(['kv'])).rejects.toMatchObject({ status: 503, answers: [expect.objectContaining({ body: { code: 'X', redirect: ['tcp://b:1'], reason: 'drains' } })] });
    const far = new RecordingChannel('far');
    engine.receive(bind('GET', ['far']), far);
    await expect(engine.get(['far'])).rejects.toMatchObject({ answers: [expect.objectContaining({ status: 503, body: expect.objectContaining({ redirect: ['tcp://b:1'] }) })] });
  });

  it('answers 400 at once, not 504 later, when a channel cannot encode a request', async () => {
    const engine = newEngine();
    const broken: Channel = {
      id: 'broken',
      send: () => {
        throw new Error('too deep to encode');
      },
    };
    engine.receive(bind('GET', ['x']), broken);
    const answers = await engine.get(['x']).all();
    expect(answers.map((a) => a.status)).toEqual([400]);
    expect(JSON.stringify(answers[0]!.body)).toContain('too deep to encode');
  });
});

describe('engine.peer(channel)', () => {
  it('sends a request to that channel only and takes its answers from it only', async () => {
    const engine = newEngine();
    const server = new RecordingChannel('server');
    const other = new RecordingChannel('other');
    engine.receive(bind('GET', ['x']), other);
    const reply = engine.peer(server).request('GET', ['x'], 'q');
    expect(other.sent).toHaveLength(0);
    const sent = server.sent[0]!;
    expect(sent).toMatchObject({ method: 'GET', resource: ['x'], body: 'q', token: [reply.transactionId] });
    // The same transaction answered from another channel: ignored.
    engine.receive({ ...createAnswer(200, reply.transactionId, 't1', 'forged'), token: [] }, other);
    engine.receive({ ...createAnswer(200, reply.transactionId, 't2', 'real'), protocol: ['JSTP', '0.5'], token: [] }, server);
    expect((await reply.all()).map((a) => a.body)).toEqual(['real']);
  });

  it('answers 502 at once toward a closed channel', async () => {
    const engine = newEngine();
    const gone: Channel = { id: 'gone', isClosed: true, send: () => expect.unreachable('nothing is sent to a closed channel') };
    const answers = await engine.peer(gone).request('GET', ['x']).all();
    expect(answers.map((a) => a.status)).toEqual([502]);
  });

  it('binds and releases on the peer, and emits without a transaction', async () => {
    const engine = newEngine();
    const server = new RecordingChannel('server');
    const peer = engine.peer(server);
    const bound = peer.bind({ method: 'patch', resource: ['devices', '*'] });
    expect(server.sent[0]).toMatchObject({ method: 'BIND', endpoint: { method: 'PATCH', resource: ['devices', '*'] }, token: [bound.transactionId] });
    engine.receive({ ...createAnswer(200, bound.transactionId, 'b'), token: [] }, server);
    await expect(bound).resolves.toMatchObject({ status: 200 });
    peer.emit('PATCH', ['devices', 'd'], 1);
    expect(server.sent[1]).toMatchObject({ method: 'PATCH', token: [] });
    const released = peer.release({ method: 'PATCH', resource: ['devices', '*'] });
    expect(server.sent[2]).toMatchObject({ method: 'RELEASE', token: [released.transactionId] });
  });

  it('passes what it sends through the outbound stages', () => {
    const engine = newEngine();
    engine.use({ name: 'sign', outbound: (d) => ({ ...d, 'x-sig': 'ok' }) });
    const server = new RecordingChannel('server');
    engine.peer(server).request('GET', ['x']);
    engine.peer(server).emit('PATCH', ['x'], 1);
    engine.peer(server).bind({ method: 'PATCH', resource: ['x'] });
    expect(server.sent.map((d) => d['x-sig'])).toEqual(['ok', 'ok', 'ok']);
  });
});

describe('100 Acknowledge', () => {
  it('never closes a trigger: the final answer of a JSTP 0.5 peer reaches the requester', async () => {
    const engine = newEngine();
    const peer = new RecordingChannel('node-jstp');
    const reply = engine.peer(peer).request('GET', ['x']);
    const answer = (status: number, body: unknown): Dispatch => ({ protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: [status, reply.transactionId, 'trig'], timestamp: 1, body });
    engine.receive({ ...answer(100, 'seen'), token: [] }, peer);
    engine.receive({ ...answer(200, 'done'), token: [] }, peer);
    expect((await reply.all()).map((a) => a.status)).toEqual([100, 200]);
  });

  it('lets a local handler acknowledge first and answer later', async () => {
    const engine = newEngine();
    engine.bind({ method: 'POST', resource: ['slow'] }, (incoming) => {
      incoming.answer(Status.Acknowledge);
      setTimeout(() => incoming.answer(Status.Ok, 'done'), 10);
      return undefined;
    });
    expect((await engine.post(['slow']).all()).map((a) => [a.status, a.body])).toEqual([[100, undefined], [200, 'done']]);
  });
});

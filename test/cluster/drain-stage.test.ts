/**
 * The drain stage: passes everything while serving (the stage contract), and while
 * draining answers a peer's new request for a replicated service 503 with the
 * redirect, before any handler sees it; what is not replicated, local, a BIND or
 * without a transaction passes.
 */
import { describe, expect, it } from 'vitest';
import { DrainStage } from '../../gateway/cluster/drain-stage.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode, PasarelaError } from '../../gateway/jstp/errors.js';
import { RecordingChannel, stageContract } from '../support/stage-contract.js';

stageContract('cluster drain, serving', { make: () => new DrainStage([['devices', '...'], ['gateway']]), outcome: { kind: 'pass' } });

function request(id: string, resource: string[]) {
  return { protocol: ['JSTP', '0.6', 'pasarela'], method: 'GET', token: [id], resource, timestamp: 1 };
}

describe('the drain stage', () => {
  it('refuses new replicated requests from peers while draining, and nothing else', async () => {
    const engine = new Engine();
    const drain = new DrainStage([['kv', '...']]);
    engine.use(drain);
    const served: string[] = [];
    engine.bind({ method: 'GET', resource: ['...'] }, (incoming) => {
      served.push(String(incoming.resource.join('/')));
      return 'ok';
    });
    drain.redirect = ['tcp://other:1', 'ws://other:2'];
    const peer = new RecordingChannel('peer');
    engine.receive(request('t1', ['kv', 'a']), peer);
    engine.receive(request('t2', ['gateway']), peer);
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'BIND', token: ['t3'], endpoint: { method: 'PATCH', resource: ['kv', '...'] }, timestamp: 1 }, peer);
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'GET', token: [], resource: ['kv', 'emitted'], timestamp: 1 }, peer);
    await expect(engine.get(['kv', 'local'])).resolves.toMatchObject({ status: 200 });
    const answers = peer.sent.filter((d) => d.method === 'ANSWER' && d.resource![0] !== 101);
    expect(answers.map((d) => [d.resource![1], d.resource![0]])).toEqual([['t1', 503], ['t2', 200], ['t3', 200]]);
    expect(answers[0]!.body).toMatchObject({ code: ErrorCode.Draining, redirect: ['tcp://other:1', 'ws://other:2'], reason: expect.stringContaining('draining') });
    expect(served).toEqual(['gateway', 'kv/emitted', 'kv/local']);
    expect(drain.refused).toBe(1);
    // Serving again: the same request is served.
    drain.redirect = undefined;
    engine.receive(request('t4', ['kv', 'a']), peer);
    expect(served).toContain('kv/a');
    engine.close();
  });

  it('takes only valid patterns', () => {
    expect(() => new DrainStage([['a', '...', '...']])).toThrow(PasarelaError);
  });
});

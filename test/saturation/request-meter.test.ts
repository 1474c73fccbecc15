/**
 * The saturation plugin's stage counts peers' requests and the 5xx answers that leave
 * (a drained instance's refusal aside), and passes every dispatch unchanged.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import { RequestMeter } from '../../gateway/saturation/request-meter.js';
import { RecordingChannel, stageContract } from '../support/stage-contract.js';

stageContract('saturation request meter', { make: () => new RequestMeter(), outcome: { kind: 'pass' } });

function request(id: string, resource: string[], body?: unknown) {
  return { protocol: ['JSTP', '0.6', 'pasarela'], method: 'GET', token: [id], resource, timestamp: 1, ...(body === undefined ? {} : { body }) };
}

describe('the request meter', () => {
  it('counts requests from peers and answers of 500 and above, not local requests, emits or drain refusals', async () => {
    const engine = new Engine();
    const meter = new RequestMeter();
    engine.use(meter);
    engine.bind({ method: 'GET', resource: ['ok'] }, () => 'fine');
    engine.bind({ method: 'GET', resource: ['broken'] }, () => {
      throw new Error('boom');
    });
    engine.bind({ method: 'GET', resource: ['drained'] }, (incoming) => incoming.answer(503, { code: ErrorCode.Draining, redirect: [] }));
    const peer = new RecordingChannel('peer');
    engine.receive(request('t1', ['ok']), peer);
    engine.receive(request('t2', ['broken']), peer);
    engine.receive(request('t3', ['drained']), peer);
    engine.receive(request('t4', ['nothing-here']), peer);
    engine.receive({ protocol: ['JSTP', '0.5'], method: 'PATCH', token: [], resource: ['ok'], timestamp: 1 }, peer);
    await engine.get(['ok']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(meter.requests).toBe(4);
    // The 500 of the handler that threw; 404 is no error of the service, the drain refusal neither.
    expect(meter.errors).toBe(1);
    expect(peer.sent.filter((d) => d.method === 'ANSWER').map((d) => d.resource![0])).toEqual(expect.arrayContaining([200, 500, 503, 404]));
    engine.close();
  });
});

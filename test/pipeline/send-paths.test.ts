/**
 * Every way a dispatch leaves an engine passes its outbound stages, over real
 * sockets and a real PTY: through the forwarding pool, from the client, and on the
 * serial `jstp-cbor` link to a robot's firmware.
 */
import { describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { ForwardingPool } from '../../gateway/forwarding.js';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine, type Stage } from '../../gateway/jstp/engine.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { robotOnPty } from '../serial/harness.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { until } from '../support/until.js';

const cleanups = cleanupsAfterEach();

/** Tags what leaves with `x-via`, and records what enters and leaves. */
function tracer(name: string) {
  const out: Dispatch[] = [];
  const inbound: Dispatch[] = [];
  const stage: Stage = {
    name,
    outbound: (dispatch) => {
      out.push(dispatch);
      return { ...dispatch, 'x-via': name };
    },
    inbound: (dispatch) => {
      inbound.push(dispatch);
      return dispatch;
    },
  };
  return { stage, out, inbound };
}

async function tcpEngine(): Promise<{ engine: Engine; port: number }> {
  const engine = new Engine({ answerTimeoutMs: 3_000 });
  const tcp = new TcpTransport({ engine });
  const { port } = await tcp.listen();
  cleanups.push(async () => {
    await tcp.close();
    engine.close();
  });
  return { engine, port };
}

describe('outbound stages on every send path', () => {
  it('through the forwarding pool: the forwarded dispatch is staged, then sent by the engine', async () => {
    const far = await tcpEngine();
    far.engine.bind({ method: 'GET', resource: ['far'] }, (incoming) => ({ via: incoming.dispatch['x-via'] }));
    const near = new Engine({ answerTimeoutMs: 3_000 });
    const pool = new ForwardingPool({ engine: near, enabled: true }).install();
    cleanups.push(async () => {
      await pool.close();
      near.close();
    });
    const trace = tracer('near');
    near.use(trace.stage);
    const answer = await near.get(['far'], undefined, { host: [['127.0.0.1', far.port, 'tcp']] });
    expect(answer.body).toEqual({ via: 'near' });
    expect(trace.out.map((d) => d.method)).toEqual(['GET']);
    // The answer came back in through the stage, from the pool's connection.
    expect(trace.inbound.some((d) => d.method === 'ANSWER')).toBe(true);
  });

  it('from the client: requests, emits and BINDs pass client.use() stages', async () => {
    const server = await tcpEngine();
    const seen: Dispatch[] = [];
    server.engine.use({ name: 'server-recorder', inbound: (d) => (seen.push(d), d) });
    server.engine.bind({ method: 'GET', resource: ['hello'] }, () => 'hi');
    const client = connect(`tcp://127.0.0.1:${server.port}`, { reconnect: false });
    cleanups.push(() => client.close());
    const trace = tracer('client');
    client.use(trace.stage);
    await client.ready();
    expect((await client.get(['hello'])).body).toBe('hi');
    client.emit('PATCH', ['telemetry'], 1);
    client.bind({ method: 'PATCH', resource: ['devices', '*'] }, () => undefined);
    await until(() => seen.some((d) => d.method === 'BIND') && seen.some((d) => d.method === 'PATCH'), 'the server to see all three');
    for (const method of ['GET', 'PATCH', 'BIND']) {
      expect(seen.find((d) => d.method === method)?.['x-via']).toBe('client');
    }
    expect(trace.out.map((d) => d.method).sort()).toEqual(['BIND', 'GET', 'PATCH']);
  });

  it('on the serial jstp-cbor link: what goes to the firmware and what it sends pass the link stages', async () => {
    const rig = await robotOnPty('jstp-cbor');
    cleanups.push(() => rig.close());
    const trace = tracer('link');
    const { gateway } = await rig.startDriver({ stages: [trace.stage] });
    await gateway.waitFor('rover', true);
    expect(await gateway.call('GET', ['devices', 'rover', 'properties', 'battery'])).toEqual({ status: 200, body: 80 });
    // The hello's GETs, then whatever else, all went out through the stage.
    expect(trace.out.filter((d) => d.method === 'GET').map((d) => d.resource)).toEqual(expect.arrayContaining([['description'], ['properties']]));
    expect(trace.inbound.some((d) => d.method === 'ANSWER')).toBe(true);
  });
});

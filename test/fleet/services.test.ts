/**
 * A replicated service over the fleet: two gateways serve `kv`, a third asks
 * `["fleet", "*", "kv", ...]` and NATS's queue group spreads the requests; a gateway
 * whose saturation turns critical leaves the group and gets none until it clears;
 * with nobody serving, 502 at once. Gateways in process, a real 3-node cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { fleetPlugin } from '../../gateway/fleet/plugin.js';
import { startGateway, type Gateway, type GatewayPlugin } from '../../gateway/gateway.js';
import { NatsCluster } from '../support/nats.js';

let cluster: NatsCluster;
const gateways = new Map<string, Gateway>();

/** A `kv` service that says which gateway answered. */
function kvService(name: string): GatewayPlugin {
  return {
    name: 'kv',
    async start({ engine }) {
      return engine.bind({ method: 'GET', resource: ['kv', ':key'] }, (incoming) => ({ key: incoming.params.key, servedBy: name }));
    },
  };
}

async function member(name: string, services: string[]): Promise<Gateway> {
  const config = parseConfig(
    {
      listen: { tcp: 0, http: 0 },
      log: { level: 'silent' },
      fleet: { name, nats: { servers: cluster.urls }, heartbeatMs: 300, offlineAfterMs: 2_000, services },
    },
    'test',
  );
  const plugins = [fleetPlugin(config.fleet!), ...(services.length > 0 ? [kvService(name)] : [])];
  const gateway = await startGateway(config, { plugins });
  gateways.set(name, gateway);
  return gateway;
}

async function servedBy(asker: Gateway, count: number): Promise<Map<string, number>> {
  const tally = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const answer = await asker.engine.get(['fleet', '*', 'kv', `k${i}`]);
    const by = (answer.body as { servedBy: string }).servedBy;
    tally.set(by, (tally.get(by) ?? 0) + 1);
  }
  return tally;
}

beforeAll(async () => {
  cluster = await NatsCluster.start(3);
  await Promise.all([member('a', ['kv']), member('b', ['kv']), member('asker', [])]);
  // The queue subscriptions are in place once the service answers.
  const asker = gateways.get('asker')!;
  for (let attempt = 0; attempt < 100; attempt++) {
    const answers = await asker.engine.get(['fleet', '*', 'kv', 'warm-up']).all();
    if (answers.some((answer) => answer.status === 200)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 60_000);

afterAll(async () => {
  for (const gateway of gateways.values()) await gateway.close();
  await cluster?.stop();
}, 30_000);

describe('a replicated service over the fleet', () => {
  it('spreads requests over the gateways that serve it', async () => {
    const tally = await servedBy(gateways.get('asker')!, 60);
    expect([...tally.keys()].sort()).toEqual(['a', 'b']);
    // A queue group picks at random: each should get a fair part of 60.
    expect(Math.min(...tally.values())).toBeGreaterThan(10);
  });

  it('takes a critical gateway out of the group until its level clears', async () => {
    const a = gateways.get('a')!;
    a.engine.emit('PATCH', ['gateway', 'saturation'], { level: 'critical' });
    // Leaving the group reaches the server after a round trip.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...(await servedBy(gateways.get('asker')!, 30)).keys()]).toEqual(['b']);
    a.engine.emit('PATCH', ['gateway', 'saturation'], { level: 'ok' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...(await servedBy(gateways.get('asker')!, 40)).keys()].sort()).toEqual(['a', 'b']);
  });

  it('answers 502 at once when no gateway serves the service', async () => {
    const started = Date.now();
    const answers = await gateways.get('asker')!.engine.get(['fleet', '*', 'nothing', 'x']).all();
    expect(answers.map((answer) => answer.status)).toEqual([502]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

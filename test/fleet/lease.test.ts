/**
 * Device leases in a real 3-node cluster's key-value bucket: the preferred gateway
 * takes the device, a standby takes over when the holder's connection dies, the
 * preferred one gets it back by handover, and at no moment do two hold it.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lease, openLeases } from '../../gateway/fleet/lease.js';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { NatsCluster } from '../support/nats.js';
import { until } from '../support/until.js';

const TTL_MS = 1_500;
let cluster: NatsCluster;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  cluster = await NatsCluster.start(3);
}, 60_000);

afterAll(async () => {
  for (const connection of connections) await connection.close().catch(() => undefined);
  await cluster?.stop();
}, 30_000);

/** Who holds the device at each change, to check that two never do. */
const timeline: Array<{ holder: string; active: boolean; at: number }> = [];

async function contender(holder: string, preferred: boolean, device = 'shared-sensor') {
  const connection = await connect({ servers: cluster.urls, maxReconnectAttempts: 0 });
  connections.push(connection);
  const bucket = openLeases(connection, TTL_MS);
  const lease = new Lease({
    device,
    holder,
    preferred,
    ttlMs: TTL_MS,
    logger: silentLogger(),
    bucket: () => bucket,
    onChange: (active) => timeline.push({ holder, active, at: Date.now() }),
  });
  lease.start();
  return { lease, connection };
}

function neverTwoAtOnce(): void {
  const holding = new Set<string>();
  for (const event of timeline) {
    if (event.active) holding.add(event.holder);
    else holding.delete(event.holder);
    expect(holding.size, `at ${event.at}: ${[...holding].join(', ')}`).toBeLessThanOrEqual(1);
  }
}

describe('device leases', () => {
  it('the preferred gateway takes it, the standby takes over when it dies, and hands it back', async () => {
    const primary = await contender('kitchen', true);
    const standby = await contender('workshop', false);
    await until(() => primary.lease.holding, 'the preferred gateway to hold the lease', 10_000);
    // The standby waits, and then sees it held.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 1.5));
    expect(standby.lease.holding).toBe(false);

    // The holder's connection dies as a crashed machine's would.
    const diedAt = Date.now();
    await primary.connection.close();
    await until(() => standby.lease.holding, 'the standby to take over', 15_000);
    const takeover = Date.now() - diedAt;
    // Expiry (one ttl) plus at most one renewal period, and some slack for the machine.
    expect(takeover).toBeLessThan(TTL_MS * 2 + 2_000);
    // The dead holder let go on its own when it could not renew.
    expect(primary.lease.holding).toBe(false);
    await primary.lease.stop();

    // The preferred gateway comes back: it asks, the standby hands over.
    const back = await contender('kitchen', true);
    await until(() => back.lease.holding && !standby.lease.holding, 'the handover', 15_000);
    neverTwoAtOnce();
    await Promise.all([back.lease.stop(), standby.lease.stop()]);
  }, 60_000);

  it('gives the lease up at once on a clean stop', async () => {
    const a = await contender('a', true, 'plug');
    const b = await contender('b', false, 'plug');
    await until(() => a.lease.holding, 'a to hold the plug', 10_000);
    await new Promise((resolve) => setTimeout(resolve, TTL_MS));
    const stoppedAt = Date.now();
    await a.lease.stop();
    await until(() => b.lease.holding, 'b to take the plug', 10_000);
    // No waiting for expiry: the next renewal period.
    expect(Date.now() - stoppedAt).toBeLessThan(TTL_MS + 1_000);
    neverTwoAtOnce();
    await b.lease.stop();
  }, 30_000);
});

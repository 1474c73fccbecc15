/**
 * Dead and slow peers. A real `pasarela watch` process binds at a gateway over TCP;
 * frozen with SIGSTOP it vanishes without a FIN (its kernel even keeps acknowledging),
 * and the gateway's idle probe releases its subscriptions within the configured time.
 * Alive, the probe is answered and nothing is released. TCP keepalive is on for the
 * gateway's accepted sockets and the client's outbound one, as the kernel shows.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { Run } from '../support/pasarela.js';
import { until } from '../support/until.js';
import { sleep } from '../transports/helpers.js';

const IDLE_PROBE_MS = 300;

const gateways: Gateway[] = [];
const runs: Run[] = [];

afterEach(async () => {
  for (const run of runs.splice(0)) {
    run.child.kill('SIGCONT');
    run.kill();
  }
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
});

async function gatewayWithWatcher(): Promise<{ gateway: Gateway; watcher: Run; own: number }> {
  const gateway = await startGateway(parseConfig({ listen: { tcp: 0, http: 0 }, limits: { idleProbeMs: IDLE_PROBE_MS, keepAliveMs: 5_000 } }, 'test'));
  gateways.push(gateway);
  const own = gateway.engine.stats().subscriptions;
  const watcher = new Run(['watch', 'PATCH', 'things/*', '--url', `tcp://127.0.0.1:${gateway.ports.tcp}`]);
  runs.push(watcher);
  await until(() => gateway.engine.stats().subscriptions === own + 1, "the watcher's BIND", 20_000);
  return { gateway, watcher, own };
}

describe('a peer that holds subscriptions and goes quiet', () => {
  it('alive, it answers the idle probe and keeps its subscription', async () => {
    const { gateway, watcher, own } = await gatewayWithWatcher();
    await sleep(IDLE_PROBE_MS * 6);
    expect(gateway.engine.stats().subscriptions).toBe(own + 1);
    // And it still gets what it bound.
    gateway.engine.emit('PATCH', ['things', 'lamp'], { on: true });
    await watcher.line('stdout', (line) => line.startsWith('PATCH things/lamp'));
  });

  it('frozen with SIGSTOP, its subscriptions are released within the configured time', async () => {
    const { gateway, watcher, own } = await gatewayWithWatcher();
    watcher.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    // Noticed after at most three probe periods (quiet, probed, unanswered); generous margin on a shared machine.
    await until(() => gateway.engine.stats().subscriptions === own, 'the release', IDLE_PROBE_MS * 3 + 4_000);
    const took = Date.now() - frozenAt;
    expect(took).toBeGreaterThanOrEqual(IDLE_PROBE_MS);
    const limits = (await gateway.engine.get(['gateway', 'limits'])).body as { exceeded: Record<string, number> };
    expect(limits.exceeded.idleProbeMs).toBe(1);
  });
});

describe('TCP keepalive', () => {
  it("is on for the gateway's accepted socket and the client's outbound one", async () => {
    const { gateway } = await gatewayWithWatcher();
    const port = gateway.ports.tcp;
    // ss shows a keepalive timer on sockets that have SO_KEEPALIVE set.
    const table = execFileSync('ss', ['-tno', 'state', 'established', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
    const lines = table.split('\n').filter((line) => line.includes(`:${port}`));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/timer:\(keepalive,/);
  });
});

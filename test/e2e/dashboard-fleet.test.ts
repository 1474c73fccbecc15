/**
 * The dashboard's fleet panel in chromium, on a real 3-node nats-server cluster: hidden on a
 * gateway outside a fleet; on the workshop's page it lists both gateways with their
 * health and saturation, the services they serve, and which one holds the shared
 * device; live, it shows the kitchen's saturation turn critical, then the kitchen
 * gone and the workshop holding the device it stood by for.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { fleetPlugin } from '../../gateway/fleet/plugin.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { driverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { NatsCluster } from '../support/nats.js';
import { tickingDriver } from '../support/ticking-driver.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUTPUT = join(ROOT, 'test-output');
const WAIT = { timeout: 20_000 };

const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

let browser: TestBrowser | undefined;
let cluster: NatsCluster | undefined;
const gateways: Gateway[] = [];

async function member(name: string, standby: boolean, services: string[] = []): Promise<Gateway> {
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', tcp: 0, http: 0 },
      log: { level: 'silent' },
      devices: [{ id: 'meter', driver: 'meter', standby }],
      fleet: { name, nats: { servers: cluster!.urls }, heartbeatMs: 300, offlineAfterMs: 2_000, leaseTtlMs: 1_500, services },
    },
    'e2e',
  );
  const gateway = await startGateway(config, { plugins: [fleetPlugin(config.fleet!), driverPlugin(tickingDriver({ name: 'meter', property: 'power', everyMs: 100, title: 'Shared meter' }))] });
  gateways.push(gateway);
  return gateway;
}

describe.skipIf(missing !== undefined && !process.env.CI)('the fleet panel in chromium', () => {
  beforeAll(async () => {
    [cluster] = await Promise.all([
      NatsCluster.start(3),
      promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--quiet'], { cwd: ROOT }),
      mkdir(OUTPUT, { recursive: true }),
    ]);
    browser = await launchBrowser({ viewport: { width: 900, height: 1000 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const gateway of gateways) await gateway.close();
    await cluster?.stop();
  }, 30_000);

  it('stays hidden outside a fleet', async () => {
    const alone = await startGateway(parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http: 0 }, log: { level: 'silent' } }, 'e2e'));
    gateways.push(alone);
    const page = await browser!.context.newPage();
    await page.goto(`http://127.0.0.1:${alone.ports.http}/`);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.waitForTimeout(500);
    expect(await page.locator('#fleet').isHidden()).toBe(true);
    await page.close();
  });

  it('shows the gateways, their health and who holds the shared device, live through a takeover', async () => {
    const kitchen = await member('kitchen', false);
    await member('workshop', true, ['kv']);
    const page = await browser!.context.newPage();
    await page.goto(`http://127.0.0.1:${gateways.at(-1)!.ports.http}/`);

    const kitchenCard = page.locator('[data-member="kitchen"]');
    const workshopCard = page.locator('[data-member="workshop"]');
    await kitchenCard.locator('.badge', { hasText: 'Online' }).waitFor(WAIT);
    await workshopCard.locator('.badge', { hasText: 'Online' }).waitFor(WAIT);
    await kitchenCard.locator('[data-device="meter"][data-holds]').waitFor(WAIT);
    await workshopCard.locator('[data-standby="meter"]').waitFor(WAIT);
    expect(await workshopCard.locator('.services').textContent()).toBe('Serves kv');
    expect(await workshopCard.locator('[data-device="meter"]').count()).toBe(0);
    expect(await page.locator('#notice').textContent()).toBe('The gateway has no devices yet.');
    expect(await page.locator('#fleet-summary').textContent()).toContain('workshop: 2 of 2 gateways online; NATS');
    expect(await kitchenCard.locator('.level').textContent()).toBe('Saturation ok');

    // Its saturation report reaches the fleet in its next heartbeat.
    kitchen.engine.emit('PATCH', ['gateway', 'saturation'], { level: 'critical' });
    await kitchenCard.locator('.level', { hasText: 'Saturation critical' }).waitFor(WAIT);
    expect(await kitchenCard.getAttribute('data-saturation')).toBe('critical');
    await page.screenshot({ path: join(OUTPUT, 'dashboard-fleet.png'), fullPage: true });

    // The kitchen goes: it says so, and gives the lease up; the standby takes the device.
    await kitchen.close();
    await kitchenCard.locator('.badge', { hasText: 'Offline since' }).waitFor(WAIT);
    await workshopCard.locator('[data-device="meter"][data-holds][data-online="true"]').waitFor(WAIT);
    expect(await workshopCard.locator('[data-standby]').count()).toBe(0);
    // The device came to this gateway: the page lists it among its own.
    await page.locator('.device', { hasText: 'Shared meter' }).waitFor(WAIT);
    expect(await page.locator('#notice').isHidden()).toBe(true);
    expect(await page.locator('#fleet-summary').textContent()).toContain('1 of 2 gateways online');
    await page.screenshot({ path: join(OUTPUT, 'dashboard-fleet-takeover.png'), fullPage: true });
    await page.close();
  }, 60_000);
});

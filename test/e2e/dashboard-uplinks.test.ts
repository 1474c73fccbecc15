/**
 * The dashboard's uplinks panel in chromium: hidden on a gateway without uplinks;
 * on one with an uplink whose far end is away it shows the link down and the queue
 * growing, then the link up and the queue empty once the far end comes.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/gateway.js';
import { uplinkPlugins } from '../../gateway/uplinks/uplink-plugin.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { deadPort } from '../support/pasarela.js';
import { startFarEnd, temporaryFolder } from '../uplinks/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUTPUT = join(ROOT, 'test-output');
const WAIT = { timeout: 20_000 };

const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

const cleanups = cleanupsAfterEach();
let browser: TestBrowser | undefined;
const folder = temporaryFolder('pasarela-e2e-uplinks-');

describe.skipIf(missing !== undefined && !process.env.CI)('the uplinks panel in chromium', () => {
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--quiet'], { cwd: ROOT });
    await mkdir(OUTPUT, { recursive: true });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function gateway(uplinks: unknown[]) {
    const config = parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http: 0 }, log: { level: 'silent' }, uplinks }, 'e2e');
    const started = await startGateway(config, { plugins: uplinkPlugins(config), configDir: folder() });
    cleanups.push(() => started.close());
    return started;
  }

  it('stays hidden when the gateway has no uplinks', async () => {
    const plain = await gateway([]);
    const page = await browser!.context.newPage();
    cleanups.push(() => page.close());
    await page.goto(`http://127.0.0.1:${plain.ports.http}/`);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    // Long enough for its first GET to have come back.
    await page.waitForTimeout(500);
    expect(await page.locator('#uplinks').isHidden()).toBe(true);
  });

  it('shows the link down and the queue, then the link up and the queue empty', async () => {
    const port = await deadPort();
    const started = await gateway([{ name: 'cloud', url: `tcp://127.0.0.1:${port}`, forward: ['PATCH devices/...'], reconnect: { initialMs: 50, maxMs: 200 } }]);
    const producer = connect(`tcp://127.0.0.1:${started.ports.tcp}`, { reconnect: false });
    cleanups.push(() => producer.close());
    await producer.ready();
    for (let n = 0; n < 3; n++) await producer.patch(['devices', 'lamp', 'properties', 'temperature'], n);

    const page = await browser!.context.newPage();
    cleanups.push(() => page.close());
    await page.goto(`http://127.0.0.1:${started.ports.http}/`);
    const card = page.locator('[data-uplink="cloud"]');
    await card.locator('.badge', { hasText: 'Down since' }).waitFor(WAIT);
    await card.locator('.queue', { hasText: /^3 queued/ }).waitFor(WAIT);
    expect(await card.locator('.meta').first().textContent()).toContain(`tcp://127.0.0.1:${port}`);
    await page.screenshot({ path: join(OUTPUT, 'dashboard-uplinks-down.png'), fullPage: true });

    const far = await startFarEnd({ port });
    cleanups.push(() => far.close());
    await card.locator('.badge', { hasText: 'Connected since' }).waitFor(WAIT);
    await card.locator('.queue', { hasText: /^0 queued/ }).waitFor(WAIT);
    await card.locator('.meta', { hasText: '3 sent, 3 acknowledged, 0 dropped' }).waitFor(WAIT);
    expect(await card.getAttribute('data-connected')).toBe('true');
    await page.screenshot({ path: join(OUTPUT, 'dashboard-uplinks-up.png'), fullPage: true });
  });
});

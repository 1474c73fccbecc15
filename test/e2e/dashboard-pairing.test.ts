/**
 * Pairing the dashboard, in Chromium, against a demo gateway with security on
 * (anonymous: read) opened as a phone on the LAN would: over plain http from the
 * machine's LAN address, which is not a secure context, so the page signs with
 * @noble/curves. Before pairing it is read-only: values show, controls are disabled,
 * the reason and a pairing code are on screen. After `pasarela pair CODE --can
 * operate` (the real command) the page picks up its grant, and Brew works; the grant
 * survives a reload (IndexedDB). Its commands leave sealed to the gateway, and the
 * PATCHes come sealed to the page, which opens them (@noble/ciphers).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPlugins } from '../../demo/plugins.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { writeIdentityFile } from '../../gateway/security/files.js';
import { createIdentity } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { securityPlugin } from '../../gateway/security/plugin.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { pasarelaRuns } from '../support/pasarela.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUTPUT = join(ROOT, 'test-output');
const WAIT = { timeout: 20_000 };
const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

const runs = pasarelaRuns();
let dir: string;
let gateway: Gateway | undefined;
let browser: TestBrowser | undefined;
let page: Page;
let pageUrl: string;
const pageErrors: string[] = [];

/** The first IPv4 address that is not loopback: where a phone would reach the gateway. */
function lanAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

describe.skipIf(missing !== undefined && !process.env.CI)('pairing the dashboard in chromium', () => {
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--quiet'], { cwd: ROOT });
    dir = await mkdtemp(join(tmpdir(), 'pasarela-pairing-'));
    const owner = createIdentity(nodeSuite);
    writeIdentityFile(join(dir, 'owner.key'), owner);
    writeIdentityFile(join(dir, 'gateway.key'), createIdentity(nodeSuite));
    const lan = lanAddress();
    const config = parseConfig(
      { listen: { host: lan ? '0.0.0.0' : '127.0.0.1', tcp: 0, http: 0 }, log: { level: 'silent' }, security: { identity: './gateway.key', owners: [owner.id], anonymous: 'read' } },
      'e2e',
    );
    gateway = await startGateway(config, { configDir: dir, plugins: [securityPlugin(), ...demoPlugins({ brokerPort: 0, sensorIntervalMs: 500, coffeeSpeed: 4 })] });
    pageUrl = `http://${lan ?? '127.0.0.1'}:${gateway.ports.http}/`;
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('before pairing: read-only, with the reason and a pairing code on screen', async () => {
    await page.goto(pageUrl);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.locator('body[data-paired="no"]').waitFor(WAIT);
    // Served over http from a LAN address: no secure context, so no WebCrypto to lean on.
    if (!pageUrl.includes('127.0.0.1')) expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    await page.locator('[data-device="coffee"][data-online="true"]').waitFor(WAIT);
    await expect(page.locator('#pairing .reason').textContent()).resolves.toContain('not paired');
    await expect(page.locator('#pairing .reason').textContent()).resolves.toContain('read the devices, not change them');
    await page.locator('#pairing .code', { hasText: /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/ }).waitFor(WAIT);
    const brew = page.locator('[data-device="coffee"]').getByRole('button', { name: 'Brew', exact: true });
    expect(await brew.isDisabled()).toBe(true);
    await expect(brew.getAttribute('title')).resolves.toContain('not paired');
    // anonymous: read lets it see live values.
    await page.locator('[data-device="living-room"] [data-property="temperature"] .value', { hasText: /°C$/ }).waitFor(WAIT);
    await expect(page.locator('#pairing code.command').textContent()).resolves.toMatch(/^pasarela pair \S+ --can operate --identity owner\.key --url ws:\/\//);
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'dashboard-unpaired.png') });
    expect(pageErrors).toEqual([]);
  });

  it('pasarela pair CODE --can operate grants it, and Brew works', async () => {
    const code = (await page.locator('#pairing .code').textContent())!;
    const pageId = (await page.locator('#pairing .page-id').textContent())!;
    const pair = runs.pasarela('pair', code, '--can', 'operate', '--identity', join(dir, 'owner.key'), '--url', `ws://127.0.0.1:${gateway!.ports.http}/`);
    expect((await pair.exited).code, pair.stderr.join('\n')).toBe(0);
    expect(pair.stdout).toEqual([pageId]);
    // The page fetches its grant and starts again with it.
    await page.locator('body[data-paired="yes"]').waitFor(WAIT);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.locator('[data-device="coffee"][data-online="true"][data-readonly="false"]').waitFor(WAIT);
    const card = page.locator('[data-device="coffee"]');
    await card.getByLabel('Size').selectOption({ label: 'small' });
    await card.getByRole('button', { name: 'Brew', exact: true }).click();
    await card.locator('.steps li[data-step="ready"][aria-current="step"]').waitFor(WAIT);
    await expect(card.locator('form[data-action="brew"] output').textContent()).resolves.toMatch(/^Done/);
    expect(pageErrors).toEqual([]);
  });

  it('stays paired after a reload: the key and the grant are in IndexedDB', async () => {
    await page.reload();
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.locator('body[data-paired="yes"]').waitFor(WAIT);
    await page.locator('[data-device="coffee"][data-online="true"][data-readonly="false"]').waitFor(WAIT);
    expect(await page.locator('[data-device="coffee"]').getByRole('button', { name: 'Brew', exact: true }).isDisabled()).toBe(false);
  });

  it('seals its commands to the gateway, and opens the PATCHes the gateway seals to it', async () => {
    const frames = { sent: [] as string[], received: [] as string[] };
    page.on('websocket', (socket) => {
      socket.on('framesent', (frame) => frames.sent.push(String(frame.payload)));
      socket.on('framereceived', (frame) => frames.received.push(String(frame.payload)));
    });
    await page.reload();
    await page.locator('body[data-paired="yes"][data-sealed="yes"]').waitFor(WAIT);
    await page.locator('[data-device="coffee"][data-online="true"][data-readonly="false"]').waitFor(WAIT);
    const temperature = page.locator('[data-device="living-room"] [data-property="temperature"] .value');
    const shown = await temperature.textContent();
    // New readings keep coming, every one of them sealed: the page shows what it opened.
    await page.waitForFunction((before) => document.querySelector('[data-device="living-room"] [data-property="temperature"] .value')?.textContent !== before, shown, WAIT);
    const patches = frames.received.map((text) => JSON.parse(text) as Record<string, unknown>).filter((d) => d.method === 'PATCH');
    expect(patches.length).toBeGreaterThan(0);
    for (const patch of patches) {
      expect(patch.sealed).toEqual(expect.any(String));
      expect(patch.body).toBeUndefined();
    }
    const card = page.locator('[data-device="coffee"]');
    await card.getByLabel('Size').selectOption({ label: 'large' });
    await card.getByRole('button', { name: 'Brew', exact: true }).click();
    await card.locator('.steps li[data-step="ready"][aria-current="step"]').waitFor(WAIT);
    // The Brew went out as POST ["sealed"]: its action, its size and its signature inside.
    const sent = frames.sent.map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(sent.some((d) => d.sealed !== undefined && d.method === 'POST' && JSON.stringify(d.resource) === '["sealed"]')).toBe(true);
    for (const text of frames.sent) {
      expect(text).not.toContain('actions');
      expect(text).not.toContain('"large"');
    }
    expect(pageErrors).toEqual([]);
  });
});

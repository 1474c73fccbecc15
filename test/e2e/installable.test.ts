/**
 * The dashboard as an app on a phone, in Debian's chromium, against the real
 * `pasarela` command: Chromium's own manifest parser finds no error in the manifest,
 * the icons are the PNGs it names, the service worker registers on localhost (a
 * secure context, as a page over TLS is) and Chromium reports the page installable;
 * with the gateway gone, the page still opens, from the worker's cache, and says the
 * gateway is unreachable, where a browser without the worker shows its error page.
 * Over plain http under a LAN name the page is not a secure context: no worker, and
 * the dashboard works as before.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { Run } from '../support/pasarela.js';

const ROOT = join(import.meta.dirname, '..', '..');
const WAIT = { timeout: 20_000 };
/** A name for this machine as a phone on the LAN would use it (not localhost, so not a secure context). */
const LAN_NAME = 'pasarela.lan';

const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

let browser: TestBrowser | undefined;
let gateway: Run | undefined;
let http: number;

async function startGateway(port = 0): Promise<number> {
  gateway = new Run(['--host', '127.0.0.1', '--tcp', '0', '--http', String(port)]);
  return (await gateway.log('ready')).http as number;
}

async function stopGateway(): Promise<void> {
  const run = gateway;
  gateway = undefined;
  if (!run) return;
  run.kill('SIGTERM');
  await run.exited;
}

/** Width and height from a PNG's IHDR. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(bytes.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

async function cdp(page: Page, method: string): Promise<any> {
  const session = await page.context().newCDPSession(page);
  try {
    return await session.send(method as 'Page.getAppManifest');
  } finally {
    await session.detach();
  }
}

describe.skipIf(missing !== undefined && !process.env.CI)('the dashboard as an installable app (chromium)', () => {
  beforeAll(async () => {
    // The page as the sources are now, not as last built.
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--quiet'], { cwd: ROOT });
    http = await startGateway();
    browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${LAN_NAME} 127.0.0.1`] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopGateway();
  });

  it('has a manifest Chromium parses without an error, naming icons that are the PNGs it says', async () => {
    const page = await browser!.context.newPage();
    await page.goto(`http://127.0.0.1:${http}/`);
    const manifest = (await cdp(page, 'Page.getAppManifest')) as { url: string; errors: { message: string }[]; data?: string };
    expect(manifest.url).toBe(`http://127.0.0.1:${http}/manifest.webmanifest`);
    expect(manifest.errors).toEqual([]);
    const data = JSON.parse(manifest.data!) as { name: string; display: string; start_url: string; icons: { src: string; sizes: string; type: string; purpose: string }[] };
    expect(data).toMatchObject({ name: 'Pasarela', short_name: 'Pasarela', display: 'standalone', start_url: './', scope: './' });
    expect(data.icons.map((entry) => `${entry.sizes} ${entry.purpose}`)).toEqual(['192x192 any', '512x512 any', '512x512 maskable']);
    for (const entry of [...data.icons, { src: 'apple-touch-icon.png', sizes: '180x180', type: 'image/png' }]) {
      const response = await fetch(new URL(entry.src, manifest.url));
      expect(response.status, entry.src).toBe(200);
      expect(response.headers.get('content-type'), entry.src).toBe(entry.type);
      const [width, height] = entry.sizes.split('x').map(Number);
      expect(pngSize(Buffer.from(await response.arrayBuffer())), entry.src).toEqual({ width, height });
    }
    await page.close();
  });

  it('registers its service worker on localhost, which then controls the page, and Chromium finds it installable', async () => {
    const page = await browser!.context.newPage();
    await page.goto(`http://127.0.0.1:${http}/`);
    const worker = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return { script: registration.active?.scriptURL, scope: registration.scope, secure: window.isSecureContext };
    });
    expect(worker).toEqual({ script: `http://127.0.0.1:${http}/sw.js`, scope: `http://127.0.0.1:${http}/`, secure: true });
    await page.reload();
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`http://127.0.0.1:${http}/sw.js`);
    // What it keeps: the page and what it loads at once, not the codec only ?encoding=cbor loads.
    const cached = await page.evaluate(async () => {
      const name = (await caches.keys()).find((key) => key.startsWith('pasarela-shell-'));
      const cache = await caches.open(name!);
      return (await cache.keys()).map((request) => new URL(request.url).pathname).sort();
    });
    expect(cached).toEqual(expect.arrayContaining(['/', '/manifest.webmanifest', '/icon-192.png', '/icon-maskable-512.png', expect.stringMatching(/^\/main-[A-Z0-9]{8}\.js$/), expect.stringMatching(/^\/styles-[A-Z0-9]{8}\.css$/)]));
    expect(cached.filter((path) => path.startsWith('/cbor-'))).toEqual([]);
    const { installabilityErrors } = (await cdp(page, 'Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    expect(installabilityErrors).toEqual([]);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.close();
  });

  it('opens without the gateway from the cached shell and says the gateway is unreachable, where a browser without it shows an error', async () => {
    const page = await browser!.context.newPage();
    await page.goto(`http://127.0.0.1:${http}/`);
    await page.evaluate(async () => navigator.serviceWorker.ready);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);

    await stopGateway();
    const response = await page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    expect(response?.status()).toBe(200);
    await page.locator('#connection-text', { hasText: 'Gateway unreachable' }).waitFor(WAIT);
    expect(await page.locator('h1').textContent()).toBe('Pasarela');

    // The same address in a browser that never ran the worker: the browser's own error.
    const bare = await launchBrowser();
    try {
      const other = await bare.context.newPage();
      await expect(other.goto(`http://127.0.0.1:${http}/`)).rejects.toThrow(/ERR_CONNECTION_REFUSED/);
    } finally {
      await bare.close();
    }

    // The gateway back on the same port: the page finds it by itself.
    await startGateway(http);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.close();
  }, 60_000);

  it('works as before over plain http on a LAN name: no secure context, no worker, the dashboard live', async () => {
    const page = await browser!.context.newPage();
    const response = await page.goto(`http://${LAN_NAME}:${http}/`);
    expect(response?.status()).toBe(200);
    expect(response?.fromServiceWorker()).toBe(false);
    expect(await page.evaluate(() => ({ secure: window.isSecureContext, worker: 'serviceWorker' in navigator }))).toEqual({ secure: false, worker: false });
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    // Not installable from here, and Chromium says why (on https, as on localhost, it is).
    const { installabilityErrors } = (await cdp(page, 'Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    expect(installabilityErrors.map((error) => error.errorId)).toContain('not-from-secure-origin');
    await page.close();
  });
});

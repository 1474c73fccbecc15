/**
 * The dashboard over compact CBOR, in a real browser (Debian's chromium through
 * playwright-core) against the demo gateway: opened with `?encoding=cbor`, the page
 * loads the codec chunk that the bundler split off, lists the devices and shows live
 * values, and every WebSocket message it sends or receives is a binary CBOR dispatch
 * (read off the wire by Playwright and decoded with the gateway's codec). Opened
 * without it, the page never fetches the codec and talks JSON text.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page, WebSocket as PageSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLink } from '../../gateway/jstp/codec/cbor-link.js';
import type { LinkCodec } from '../../gateway/jstp/codec/codec.js';
import { validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import type { Gateway } from '../../gateway/gateway.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startDemoGateway } from './demo-gateway.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** For waits on the page: long enough for a slow CI machine, never part of an assertion. */
const WAIT = { timeout: 20_000 };
const TEMPERATURE = '[data-device="living-room"] [data-property="temperature"] .value';

const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

/** What one page's WebSocket carried, as Playwright saw it on the wire. */
interface Wire {
  text: string[];
  binary: Buffer[];
}

interface OpenedPage {
  page: Page;
  sent: Wire;
  received: Wire;
  /** Paths of the scripts the page fetched. */
  scripts: string[];
  errors: string[];
}

let gateway: Gateway | undefined;
let browser: TestBrowser | undefined;

async function openDashboard(search: string): Promise<OpenedPage> {
  const page = await browser!.context.newPage();
  const opened: OpenedPage = { page, sent: { text: [], binary: [] }, received: { text: [], binary: [] }, scripts: [], errors: [] };
  const record = (wire: Wire, payload: string | Buffer) => {
    if (typeof payload === 'string') wire.text.push(payload);
    else wire.binary.push(payload);
  };
  page.on('websocket', (socket: PageSocket) => {
    socket.on('framesent', ({ payload }) => record(opened.sent, payload));
    socket.on('framereceived', ({ payload }) => record(opened.received, payload));
  });
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (path.endsWith('.js')) opened.scripts.push(path);
  });
  page.on('pageerror', (error) => opened.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') opened.errors.push(message.text());
  });
  const response = await page.goto(`http://127.0.0.1:${gateway!.ports.http}/${search}`);
  expect(response?.status()).toBe(200);
  return opened;
}

/** Waits until the living room's temperature shows a value, then until it shows another. */
async function temperatureUpdates(page: Page): Promise<void> {
  const changed = (before: string | null) =>
    page.waitForFunction(
      ([selector, old]) => {
        const text = document.querySelector(selector!)?.textContent;
        return text !== undefined && text !== old && text !== '—';
      },
      [TEMPERATURE, before],
      WAIT,
    );
  await changed(null);
  await changed(await page.locator(TEMPERATURE).textContent());
}

/**
 * Every binary message of one direction decoded in order by `reader` (which learns
 * the sender's aliases as the other end does) and validated; throws on one that is not.
 */
function dispatches(messages: readonly Buffer[], reader: LinkCodec): Dispatch[] {
  return messages.map((bytes) => {
    const result = validateDispatch(reader.decode(new Uint8Array(bytes)));
    if (!result.ok) throw new Error(`a binary message is no valid dispatch: ${JSON.stringify(result)}`);
    return result.dispatch;
  });
}

describe.skipIf(missing !== undefined && !process.env.CI)('dashboard over CBOR in chromium', () => {
  beforeAll(async () => {
    // The test checks the page as the sources are now, not as last built.
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--quiet'], { cwd: ROOT });
    gateway = await startDemoGateway();
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('with ?encoding=cbor lists the devices, shows live values, and every WebSocket message is binary CBOR', async () => {
    const { page, sent, received, scripts, errors } = await openDashboard('?encoding=cbor');
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    for (const id of ['coffee', 'living-room', 'plug', 'rover']) await page.locator(`[data-device="${id}"][data-online="true"]`).waitFor(WAIT);
    await temperatureUpdates(page);

    // The codec came as its own chunk, fetched because the page asked for CBOR.
    expect(scripts.some((path) => /^\/cbor-link-[A-Z0-9]{8}\.js$/.test(path))).toBe(true);

    expect(sent.text).toEqual([]);
    expect(received.text).toEqual([]);
    const asGateway = openLink();
    const asPage = openLink();
    const out = dispatches(sent.binary, asGateway);
    const inbound = dispatches(received.binary, asPage);
    // The page offered resource aliases and the gateway gave them toward it.
    expect(asGateway.stats().peerAccepts).toBe(true);
    expect(asPage.stats()).toMatchObject({ peerAccepts: true, unknownAliases: 0 });
    expect(asPage.stats().definitionsReceived).toBeGreaterThan(0);
    // The page subscribed in CBOR, and the gateway pushed the reading that changed the value shown in CBOR.
    expect(out.some((dispatch) => dispatch.method === 'BIND')).toBe(true);
    expect(out.some((dispatch) => dispatch.method === 'GET' && dispatch.resource?.[0] === 'devices')).toBe(true);
    const readings = inbound.filter(
      (dispatch) => dispatch.method === 'PATCH' && JSON.stringify(dispatch.resource) === JSON.stringify(['devices', 'living-room', 'properties', 'temperature']),
    );
    expect(readings.length).toBeGreaterThan(0);
    expect(readings.every((reading) => typeof (reading.body as { value?: unknown }).value === 'number')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('without it talks JSON text and never fetches the codec', async () => {
    const { page, sent, received, scripts, errors } = await openDashboard('');
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await temperatureUpdates(page);
    expect(scripts.some((path) => path.startsWith('/main-'))).toBe(true);
    expect(scripts.filter((path) => path.startsWith('/cbor-'))).toEqual([]);
    expect(sent.binary).toEqual([]);
    expect(received.binary).toEqual([]);
    expect(sent.text.length).toBeGreaterThan(0);
    expect(received.text.some((message) => message.includes('"living-room"'))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});

/**
 * The dashboard in a real browser (Debian's chromium through playwright-core), as a
 * person on a phone would use it, against the demo gateway (`npm start`'s
 * composition, simulators sped up): the page loads without errors, lists the
 * simulated devices, shows live values, brews a coffee, drives the robot, and
 * survives a gateway restart.
 * Every wait is Playwright's own (for the DOM to reach a state), with generous
 * timeouts; nothing asserts on elapsed time.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startDemoGateway } from './demo-gateway.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUTPUT = join(ROOT, 'test-output');
/** For waits on the page: long enough for a slow CI machine, never part of an assertion. */
const WAIT = { timeout: 20_000 };

const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

let gateway: Gateway | undefined;
let browser: TestBrowser | undefined;
let page: Page;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

/** The text of a property's value on a device card. */
function value(device: string, property: string) {
  return page.locator(`[data-device="${device}"] [data-property="${property}"] .value`);
}

/** Waits until the value shown for a property differs from `before`. */
async function valueChanges(device: string, property: string, before: string): Promise<string> {
  await page.waitForFunction(
    ([selector, old]) => {
      const text = document.querySelector(selector!)?.textContent;
      return text !== undefined && text !== old && text !== '—';
    },
    [`[data-device="${device}"] [data-property="${property}"] .value`, before],
    WAIT,
  );
  return (await value(device, property).textContent()) ?? '';
}

describe.skipIf(missing !== undefined && !process.env.CI)('dashboard in chromium', () => {
  beforeAll(async () => {
    // The test checks the page as the sources are now, not as last built.
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--quiet'], { cwd: ROOT });
    await mkdir(OUTPUT, { recursive: true });
    gateway = await startDemoGateway();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('loads without errors and lists the simulated devices, grouped by driver', async () => {
    // The gateway serves the page and JSTP over WebSocket on the same port.
    const response = await page.goto(`http://127.0.0.1:${gateway!.ports.http}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    for (const id of ['coffee', 'living-room', 'plug', 'rover']) await page.locator(`[data-device="${id}"][data-online="true"]`).waitFor(WAIT);

    const groups = await page.locator('section.driver').evaluateAll((sections) =>
      Object.fromEntries(
        sections.map((section) => [
          (section as HTMLElement).dataset.driver,
          Array.from(section.querySelectorAll<HTMLElement>('[data-device]')).map((card) => card.dataset.device),
        ]),
      ),
    );
    expect(Object.keys(groups)).toEqual(['ble', 'mqtt', 'serial']);
    expect(groups.ble).toContain('coffee');
    expect(groups.mqtt).toEqual(expect.arrayContaining(['living-room', 'plug']));
    expect(groups.serial).toContain('rover');
    await expect(page.locator('[data-device="coffee"] .badge').textContent()).resolves.toBe('online');
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('is usable at 375 px: no sideways scrolling, every control labelled, real buttons', async () => {
    const layout = await page.evaluate(() => {
      const unlabelled = Array.from(document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('input, select, textarea'))
        .filter((control) => (control.labels?.length ?? 0) === 0 && !control.getAttribute('aria-label'))
        .map((control) => control.outerHTML);
      const nameless = Array.from(document.querySelectorAll('button'))
        .filter((button) => (button.textContent ?? '').trim() === '')
        .map((button) => button.outerHTML);
      return { width: document.documentElement.scrollWidth, viewport: window.innerWidth, unlabelled, nameless };
    });
    expect(layout.viewport).toBe(375);
    expect(layout.width).toBeLessThanOrEqual(375);
    expect(layout.unlabelled).toEqual([]);
    expect(layout.nameless).toEqual([]);
    // Keyboard users see where they are.
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const focused = document.activeElement as HTMLElement;
      return getComputedStyle(focused).outlineStyle;
    });
    expect(outline).not.toBe('none');
  });

  it('shows live values through BIND, with a sparkline for numbers', async () => {
    const first = (await value('living-room', 'temperature').textContent()) ?? '';
    const second = await valueChanges('living-room', 'temperature', first);
    expect(second).toMatch(/^\d+(\.\d+)? °C$/);
    await page.waitForFunction(
      () => Number(document.querySelector<SVGElement>('[data-device="living-room"] [data-property="temperature"] .spark')?.dataset.points ?? 0) >= 2,
      undefined,
      WAIT,
    );
  });

  it('brews a coffee: heating, brewing, then ready', async () => {
    const card = page.locator('[data-device="coffee"]');
    await card.getByLabel('Size').selectOption({ label: 'small' });
    await card.getByRole('button', { name: 'Brew', exact: true }).click();
    await card.locator('.steps li[data-step="ready"][aria-current="step"]').waitFor(WAIT);
    // Each step is marked as the machine reports it, so a short one is not missed.
    const reached = await card.locator('.steps li[data-reached]').evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.step));
    expect(reached).toEqual(['heating', 'brewing', 'ready']);
    await expect(value('coffee', 'state').textContent()).resolves.toBe('ready');
    await expect(card.locator('form[data-action="brew"] output').textContent()).resolves.toMatch(/^Done/);
    await page.locator('#event-log li', { hasText: 'ready' }).first().waitFor(WAIT);
    // cupsBrewed is not pushed by the machine: the page reads it again after the event.
    await page.locator('[data-device="coffee"] [data-property="cupsBrewed"] .value', { hasText: /^1$/ }).waitFor(WAIT);
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('drives the robot from its pad: forward, turn left, stop', async () => {
    const card = page.locator('[data-device="rover"]');
    const pose = value('rover', 'pose');
    const start = (await pose.textContent()) ?? '';
    await card.getByRole('button', { name: 'Forward' }).click();
    await card.locator('.progress', { hasText: 'Move: done' }).waitFor(WAIT);
    await valueChanges('rover', 'pose', start);
    const heading = async (): Promise<number> => Number(/heading (-?[\d.]+)/.exec((await pose.textContent()) ?? '')?.[1]);
    const before = await heading();
    await card.getByRole('button', { name: 'Turn left' }).click();
    await card.locator('.progress', { hasText: 'Rotate: done' }).waitFor(WAIT);
    // A quarter turn counter-clockwise (give or take the simulator's noise).
    await page.waitForFunction(
      ([selector, from]) => {
        const now = Number(/heading (-?[\d.]+)/.exec(document.querySelector(selector!)?.textContent ?? '')?.[1]);
        const turned = (((now - Number(from)) % 360) + 360) % 360;
        return turned > 80 && turned < 100;
      },
      [`[data-device="rover"] [data-property="pose"] .value`, String(before)],
      WAIT,
    );
    await card.getByRole('button', { name: 'Stop' }).click();
    await card.locator('output', { hasText: /^Done/ }).waitFor(WAIT);
    // A run of progress events is one line in the log, with a count.
    await page.locator('#event-log li', { hasText: 'progress' }).first().waitFor(WAIT);
    // The header is sticky: from the top, the full-page picture shows it where it belongs.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('shows "reconnecting" when the gateway stops and comes back live when it restarts', async () => {
    const port = gateway!.ports.http;
    await gateway!.close();
    await page.locator('#connection-text', { hasText: /reconnecting/i }).waitFor(WAIT);
    await expect(page.locator('[data-device="coffee"] button', { hasText: 'Brew' }).isDisabled()).resolves.toBe(true);

    gateway = await startDemoGateway(port);
    await page.locator('#connection-text', { hasText: 'Live' }).waitFor(WAIT);
    await page.locator('[data-device="coffee"][data-online="true"]').waitFor(WAIT);
    // Values flow again: the client bound its endpoints again on the new connection.
    const before = (await value('living-room', 'temperature').textContent()) ?? '';
    await valueChanges('living-room', 'temperature', before);
    await page.screenshot({ path: join(OUTPUT, 'dashboard-after-restart.png'), fullPage: true });
    // The browser logs the refused WebSocket attempts while the gateway was down; no script failed.
    expect(pageErrors).toEqual([]);
  });
});

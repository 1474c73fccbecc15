/**
 * A real browser for end-to-end tests: Debian's chromium (installed by .ci/run),
 * driven by playwright-core. Playwright never downloads a browser here; each launch
 * gets a fresh profile directory, removed on close.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  /** A persistent context on the fresh profile: open pages with `context.newPage()`. */
  readonly context: BrowserContext;
  readonly browser: Browser | null;
  close(): Promise<void>;
}

/** Why the e2e tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} not found: apt-get install -y chromium`;
}

/** Starts chromium with a fresh --user-data-dir and a phone-sized viewport by default. */
export async function launchBrowser(options: { viewport?: { width: number; height: number }; args?: readonly string[] } = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'pasarela-chromium-'));
  let context: BrowserContext;
  try {
    // launchPersistentContext passes the profile as --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...ARGS, ...(options.args ?? [])],
      viewport: options.viewport ?? { width: 375, height: 812 },
      timeout: 60_000,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    browser: context.browser(),
    close() {
      closing ??= (async () => {
        try {
          await context.close();
        } finally {
          await rm(profile, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
}

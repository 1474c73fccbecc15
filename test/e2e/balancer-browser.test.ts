/**
 * The balancing client in a real browser (Debian's chromium through playwright-core):
 * `pasarela/client` bundled for the browser, `connect({ urls })` given one member's
 * WebSocket URL, learns the other from the cluster and spreads its requests over both
 * instances of the key-value example.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { instances, onlyCounting, type Instance } from '../cluster/instances.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { eventually } from '../support/until.js';

const ROOT = join(import.meta.dirname, '..', '..');
const missing = browserMissing();
if (missing && process.env.CI) throw new Error(missing);

const { start, dir } = instances();
let browser: TestBrowser | undefined;
let server: http.Server | undefined;
let page = '';

beforeAll(async () => {
  if (missing) return;
  const bundle = await build({ absWorkingDir: ROOT, entryPoints: ['gateway/client.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  const script = bundle.outputFiles[0]!.text;
  server = http.createServer((request, response) => {
    if (request.url === '/client.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module">import * as client from "/client.js"; window.pasarela = client;</script>');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  page = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

async function replica(name: string, data: string, join_: Instance[]): Promise<Instance> {
  return start(
    {
      saturation: { periodS: 1, dataDir: join(data, name), thresholds: onlyCounting('disk') },
      cluster: { name: 'kv', member: name, join: join_.map((instance) => instance.url), replicated: [['kv', '...']] },
    },
    { kind: 'kv' },
  );
}

describe.skipIf(missing !== undefined && !process.env.CI)('the balancing client in chromium', () => {
  it('learns the members over WebSocket and spreads requests over them', async () => {
    const data = await dir();
    const a = await replica('a', data, []);
    const b = await replica('b', data, [a]);
    // The value on both replicas (written to each directly, so the test does not wait on copies).
    for (const instance of [a, b]) {
      const direct = connect(instance.url, { reconnect: false });
      await direct.ready();
      await eventually(() => direct.get(['cluster']), (answer) => (answer?.body as { members: unknown[] } | undefined)?.members.length === 1, 'the members to know each other', 20_000);
      await direct.put(['kv', 'k'], 'hello');
      await direct.close();
    }
    const tab = await browser!.context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(page);
    await tab.waitForFunction(() => 'pasarela' in window, undefined, { timeout: 20_000 });
    const served = await tab.evaluate(async (urls) => {
      type Balanced = { ready(): Promise<void>; members(): { state: string; url: string }[]; get(resource: string[]): Promise<{ body: { servedBy: string } }>; close(): Promise<void> };
      const { connect: open } = (window as unknown as { pasarela: { connect(options: { urls: string[] }): Balanced } }).pasarela;
      const client = open({ urls });
      await client.ready();
      const deadline = Date.now() + 20_000;
      while (client.members().filter((member) => member.state === 'ready').length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const counts: Record<string, number> = {};
      for (let i = 0; i < 60; i++) {
        const answer = await client.get(['kv', 'k']);
        counts[answer.body.servedBy] = (counts[answer.body.servedBy] ?? 0) + 1;
      }
      const urlsSeen = client.members().map((member) => member.url);
      await client.close();
      return { counts, urlsSeen };
    }, [a.wsUrl]);
    expect(errors).toEqual([]);
    // Learned over WebSocket: the page cannot open TCP.
    expect(served.urlsSeen.every((url) => url.startsWith('ws://'))).toBe(true);
    expect(served.urlsSeen).toHaveLength(2);
    expect(served.counts.a).toBeGreaterThan(10);
    expect(served.counts.b).toBeGreaterThan(10);
  });
});

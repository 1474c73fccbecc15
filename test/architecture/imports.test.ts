/**
 * What importing a module loads, seen from a fresh child process that records every
 * module it resolves: the device registry (and the gateway, and the MQTT plugin
 * until it needs its embedded broker) never load aedes, the simulators or the demo.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/pasarela.js';

const run = promisify(execFile);
const RECORDER = join(ROOT, 'test', 'support', 'record-loads.mjs');
let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-loads-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every module URL resolved while a fresh Node process imports `file` (relative to the root). */
async function loadedBy(file: string): Promise<string[]> {
  const record = join(dir, `loads-${counter++}.txt`);
  const url = pathToFileURL(join(ROOT, file)).href;
  await run(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(RECORDER).href, '--input-type=module', '-e', `await import(${JSON.stringify(url)});`], {
    cwd: ROOT,
    env: { ...process.env, PASARELA_LOADS_FILE: record },
    timeout: 20_000,
  });
  return (await readFile(record, 'utf8')).split('\n').filter((line) => line !== '');
}

const fromAedes = (url: string): boolean => url.includes('/node_modules/aedes/');
const fromSimulators = (url: string): boolean => url.startsWith(pathToFileURL(join(ROOT, 'firmware-sim')).href) || url.startsWith(pathToFileURL(join(ROOT, 'demo')).href);

describe('what an import loads', () => {
  for (const file of ['gateway/devices/index.ts', 'gateway/devices/registry.ts', 'gateway/gateway.ts', 'gateway/plugins/mqtt-plugin.ts', 'drivers/mqtt/index.ts']) {
    it(`${file} loads neither aedes nor the simulators`, async () => {
      const loaded = await loadedBy(file);
      // The recorder saw the module itself: an empty list would prove nothing.
      expect(loaded).toContain(pathToFileURL(join(ROOT, file)).href);
      expect(loaded.filter(fromAedes)).toEqual([]);
      expect(loaded.filter(fromSimulators)).toEqual([]);
    });
  }

  it('the embedded broker does load aedes (the check above can see it)', async () => {
    const loaded = await loadedBy('drivers/mqtt/embedded-broker.ts');
    expect(loaded.filter(fromAedes).length).toBeGreaterThan(0);
  });
});

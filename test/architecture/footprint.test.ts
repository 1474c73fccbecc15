/**
 * A lighter gateway: the real `pasarela` command loads only what its config or flags
 * ask for. Without devices it loads no driver library (mqtt.js, serialport, noble),
 * no broker (aedes), no YAML parser and, off a terminal, no pretty log printer; a
 * config that names MQTT devices in YAML loads them (the recorder can see them).
 * bench/footprint.ts measures what that saves.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Run, ROOT } from '../support/pasarela.js';

const ESM_RECORDER = pathToFileURL(join(ROOT, 'test', 'support', 'record-loads.mjs')).href;
const CJS_RECORDER = join(ROOT, 'test', 'support', 'record-requires.cjs');
const OPTIONAL = ['mqtt', 'aedes', 'serialport', '@serialport/stream', '@serialport/bindings-cpp', '@abandonware/noble', 'pino-pretty', 'yaml'];

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-footprint-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The packages a `pasarela ARGS` run loaded, from spawn until it closed on SIGTERM. */
async function packagesLoaded(...args: string[]): Promise<Set<string>> {
  const record = join(dir, `loads-${counter++}.txt`);
  const run = new Run(['--tcp', '0', '--http', '0', ...args], process.execPath, {
    nodeArgs: ['--import', ESM_RECORDER, '--require', CJS_RECORDER],
    env: { PASARELA_LOADS_FILE: record },
  });
  try {
    await run.log('ready');
    run.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  } finally {
    run.kill();
  }
  const packages = new Set<string>();
  for (const line of (await readFile(record, 'utf8')).split('\n')) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (match) packages.add(match[1]!);
  }
  return packages;
}

describe('what the command loads', () => {
  it('the gateway alone loads no driver library, broker, YAML parser or pretty printer', async () => {
    const loaded = await packagesLoaded();
    // The recorder saw what every gateway needs: an empty set would prove nothing.
    expect([...loaded]).toEqual(expect.arrayContaining(['ws', 'zod', 'pino']));
    expect(OPTIONAL.filter((name) => loaded.has(name))).toEqual([]);
  }, 60_000);

  it('a YAML config with an MQTT device and a broker URL loads yaml and mqtt.js, and still no broker', async () => {
    const config = join(dir, 'mqtt.yaml');
    await writeFile(config, 'mqtt: { url: "mqtt://127.0.0.1:1" }\ndevices:\n  - { id: kitchen, driver: mqtt, profile: json-sensor, topic: home/kitchen }\n');
    const loaded = await packagesLoaded('--config', config);
    expect(loaded.has('yaml')).toBe(true);
    expect(loaded.has('mqtt')).toBe(true);
    expect(['aedes', 'serialport', '@abandonware/noble', 'pino-pretty'].filter((name) => loaded.has(name))).toEqual([]);
  }, 60_000);
});

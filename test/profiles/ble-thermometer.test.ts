/**
 * docs/device-profiles.md's example, as it is written in docs/examples/ble-thermometer:
 * a YAML profile for a Bluetooth thermometer (Environmental Sensing 0x181A,
 * Temperature 0x2A6E, sint16 in 0.01 °C), listed under `profiles:` in the example's
 * config, drives a simulated GATT peripheral made from a YAML description of its own;
 * its temperature arrives over TCP as PATCH. The gateway is the real `pasarela`
 * command; since the machine has no radio, the config also loads (as `drivers:`) the
 * BLE driver on a simulated one, which runs instead of the built-in driver.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { connectedClient } from '../support/connected-client.js';
import { parseJson, pasarelaRuns, ROOT } from '../support/pasarela.js';

const EXAMPLE = join(ROOT, 'docs', 'examples', 'ble-thermometer');
const SIMULATED_BLE = join(ROOT, 'test', 'fixtures', 'drivers', 'simulated-ble.ts');
const { gateway } = pasarelaRuns();
const cleanups = cleanupsAfterEach();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-thermometer-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const giveUp = Date.now() + ms;
  while (!check()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a BLE thermometer from a YAML profile', () => {
  it('is found by its service, described by the profile, and its temperature arrives as PATCH', async () => {
    // The example folder as it is, plus the simulated radio.
    await cp(EXAMPLE, join(dir, 'example'), { recursive: true });
    const config = join(dir, 'example', 'pasarela.yaml');
    const peripheral = join(EXAMPLE, 'thermometer-peripheral.yaml');
    await writeFile(config, `${await readFile(config, 'utf8')}drivers:\n  - { module: ${SIMULATED_BLE}, options: { peripheral: ${peripheral} } }\n`);
    const { run, tcp } = await gateway('--config', config);
    const control = parseJson(await run.line('stdout', (line) => parseJson(line)?.msg === 'simulated peripheral control'))!.port as number;
    const radio = net.connect(control, '127.0.0.1');
    cleanups.push(() => radio.destroy());
    const peer = await connectedClient(tcp, cleanups);

    // Found by its advertised service; its first reading came as it connected.
    await expect.poll(async () => ((await peer.get(['devices', 'thermometer'])).body as { online: boolean }).online, { timeout: 10_000 }).toBe(true);
    await expect.poll(async () => (await peer.request('GET', ['devices', 'thermometer', 'properties', 'temperature']).all())[0]?.body, { timeout: 10_000 }).toBe(21.5);
    expect((await peer.get(['devices', 'thermometer'])).body).toMatchObject({
      id: 'thermometer',
      driver: 'ble',
      title: 'Thermometer',
      model: 'thermometer',
      properties: { temperature: { type: 'number', unit: '°C' } },
    });

    // Notified by the peripheral: a rise, then below zero (the sign of sint16).
    const seen: number[] = [];
    peer.bind({ method: 'PATCH', resource: ['devices', 'thermometer', 'properties', 'temperature'] }, ({ body }) => void seen.push((body as { value: number }).value));
    await peer.get(['gateway']); // the BIND is in place once this is answered
    radio.write('temperature 22.75\n');
    await until('22.75 °C', () => seen.includes(22.75));
    radio.write('temperature -5.25\n');
    await until('-5.25 °C', () => seen.includes(-5.25));
    expect(seen).toEqual([22.75, -5.25]);
    expect((await peer.get(['devices', 'thermometer', 'properties', 'temperature'])).body).toBe(-5.25);
    // The simulated radio's driver ran instead of the built-in one.
    expect((await peer.get(['drivers'])).body).toEqual([expect.objectContaining({ name: 'ble', origin: 'file', state: 'running', devices: 1 })]);
  });

  it('is in the docs exactly as in the example folder', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'device-profiles.md'), 'utf8');
    for (const file of ['profiles/thermometer.yaml', 'thermometer-peripheral.yaml', 'pasarela.yaml']) {
      expect(doc, file).toContain((await readFile(join(EXAMPLE, file), 'utf8')).trim());
    }
  });
});

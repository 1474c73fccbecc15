/**
 * docs/device-profiles.md's example, as it is written in docs/examples/ble-thermometer:
 * a YAML profile for a Bluetooth thermometer (Environmental Sensing 0x181A,
 * Temperature 0x2A6E, sint16 in 0.01 °C) loaded through `profiles:` in the config,
 * driving a simulated GATT peripheral made from a YAML description of its own; the
 * temperature arrives over TCP as PATCH. (The command cannot reach a simulated radio,
 * so the gateway runs here, composed as the command composes it.)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connect, type Client } from '../../gateway/client.js';
import { loadConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { blePlugin } from '../../gateway/plugins/ble-plugin.js';
import { createDescribedPeripheral, parsePeripheral, type DescribedPeripheral } from '../../firmware-sim/gatt-peripheral/index.js';
import { ROOT } from '../support/pasarela.js';

const EXAMPLE = join(ROOT, 'docs', 'examples', 'ble-thermometer');

let gateway: Gateway | undefined;
let client: Client | undefined;
let thermometer: DescribedPeripheral | undefined;

afterEach(async () => {
  await client?.close();
  await gateway?.close();
  thermometer?.stop();
  gateway = client = thermometer = undefined;
});

/** Every PATCH of the temperature, in order. */
function temperatures(target: Client): number[] {
  const seen: number[] = [];
  target.bind({ method: 'PATCH', resource: ['devices', 'thermometer', 'properties', 'temperature'] }, ({ body }) => void seen.push((body as { value: number }).value));
  return seen;
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const giveUp = Date.now() + ms;
  while (!check()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a BLE thermometer from a YAML profile', () => {
  it('is found by its service, described by the profile, and its temperature arrives as PATCH', async () => {
    thermometer = createDescribedPeripheral(parsePeripheral(parse(await readFile(join(EXAMPLE, 'thermometer-peripheral.yaml'), 'utf8'))));
    const config = await loadConfig(join(EXAMPLE, 'pasarela.yaml'), { listen: { tcp: 0, http: 0 }, log: { level: 'silent' } });
    gateway = await startGateway(config, { plugins: [blePlugin({ bindings: thermometer.radio })], configDir: EXAMPLE });
    client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`, { reconnect: false });
    await client.ready();
    const peer = client;

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
    const seen = temperatures(peer);
    await peer.get(['gateway']); // the BIND is in place once this is answered
    thermometer.set('temperature', 22.75);
    await until('22.75 °C', () => seen.includes(22.75));
    thermometer.set('temperature', -5.25);
    await until('-5.25 °C', () => seen.includes(-5.25));
    expect(seen).toEqual([22.75, -5.25]);
    expect((await peer.get(['devices', 'thermometer', 'properties', 'temperature'])).body).toBe(-5.25);
  });

  it('is in the docs exactly as in the example folder', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'device-profiles.md'), 'utf8');
    for (const file of ['profiles/thermometer.yaml', 'thermometer-peripheral.yaml', 'pasarela.yaml']) {
      expect(doc, file).toContain((await readFile(join(EXAMPLE, file), 'utf8')).trim());
    }
  });
});

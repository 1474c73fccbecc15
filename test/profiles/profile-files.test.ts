/**
 * Device models as data files, through the real `pasarela` command: `profiles:
 * [./profiles/*.yaml]` adds an MQTT model (against a real mosquitto) and a serial
 * line protocol (over a real PTY pair), without code; a bad file is refused with the
 * file, the line, the key and what was expected, and exit code 2.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../gateway/client.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { connectedClient } from '../support/connected-client.js';
import { Mosquitto } from '../support/mosquitto.js';
import { parseJson, pasarelaRuns } from '../support/pasarela.js';
import { startPtyPair } from '../support/socat.js';

const { pasarela, gateway } = pasarelaRuns();
const cleanups = cleanupsAfterEach();
let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-profiles-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A folder with a config and its profile files; returns the config's path. */
async function project(config: string, profiles: Record<string, string>): Promise<string> {
  const folder = join(dir, `project-${counter++}`);
  await mkdir(join(folder, 'profiles'), { recursive: true });
  for (const [name, text] of Object.entries(profiles)) await writeFile(join(folder, 'profiles', name), text);
  await writeFile(join(folder, 'pasarela.yaml'), config);
  return join(folder, 'pasarela.yaml');
}

const client = (tcp: number): Promise<Client> => connectedClient(tcp, cleanups);

function nextPatch(peer: Client, resource: string[], accept: (value: unknown) => boolean = () => true): Promise<unknown> {
  return new Promise((resolve) => {
    const unbind = peer.bind({ method: 'PATCH', resource }, ({ body }) => {
      const value = (body as { value: unknown }).value;
      if (!accept(value)) return;
      unbind();
      resolve(value);
    });
  });
}

const DESK_SENSOR = `# A desk sensor publishing plain JSON on its topic.
driver: mqtt
title: Desk sensor
convention: plain-json
properties:
  temperature: { type: number, unit: °C, path: sensor.temp }
  led: { type: boolean, writable: true }
actions:
  blink:
    input:
      type: object
      properties:
        times: { type: integer, minimum: 1, maximum: 5, default: 2 }
`;

describe('profile files', () => {
  it('add an MQTT device model: values arrive as PATCH, an action with no input sends its defaults', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const path = await project(
      ['profiles: [./profiles/*.yaml]', `mqtt: { url: "${broker.url}" }`, 'devices:', '  - { id: desk, driver: mqtt, profile: desk-sensor, topic: office/desk }', ''].join('\n'),
      { 'desk-sensor.yaml': DESK_SENSOR },
    );
    const { tcp } = await gateway('--config', path);
    const peer = await client(tcp);
    const device = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    cleanups.push(() => device.endAsync());
    const commands: unknown[] = [];
    device.on('message', (_topic, payload) => commands.push(JSON.parse(payload.toString('utf8'))));
    await device.subscribeAsync('office/desk/set');

    const temperature = nextPatch(peer, ['devices', 'desk', 'properties', 'temperature']);
    await device.publishAsync('office/desk', JSON.stringify({ sensor: { temp: 23.5 }, led: false }));
    expect(await temperature).toBe(23.5);
    expect((await peer.get(['devices', 'desk'])).body).toMatchObject({ title: 'Desk sensor', model: 'desk-sensor', online: true });

    expect((await peer.post(['devices', 'desk', 'actions', 'blink'])).status).toBe(200);
    await expect.poll(() => commands).toContainEqual({ blink: { times: 2 } });
  });

  it('add a serial line protocol: a GET reads the device over a PTY', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.close());
    // The device: answers `sp?` with its setpoint and takes `sp=<value>`.
    let setpoint = 21.5;
    const port = new SerialPort({ path: pty.b, baudRate: 115200 });
    cleanups.push(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
    let pending = '';
    port.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        const write = /^sp=(.+)$/.exec(line);
        if (write) setpoint = Number(write[1]);
        port.write(line === 'sp?' || write ? `sp:${setpoint}\nok\n` : 'error:1\n');
      }
    });
    const profile = [
      '# A thermostat speaking a line protocol: `sp?` -> `sp:21.5` `ok`.',
      'driver: serial',
      'title: Line thermostat',
      'errors:',
      "  '1': { status: 501, reason: unknown command }",
      'properties:',
      '  setpoint:',
      '    type: number',
      '    unit: °C',
      '    minimum: 5',
      '    maximum: 30',
      '    writable: true',
      '    read: sp?',
      '    write: sp={value}',
      "    reply: '^sp:(-?\\d+(?:\\.\\d+)?)$'",
      '',
    ].join('\n');
    const path = await project(
      ['profiles: [./profiles/thermostat.yaml]', 'devices:', `  - { id: thermostat, driver: serial, path: "${pty.a}", protocol: line, profile: thermostat }`, ''].join('\n'),
      { 'thermostat.yaml': profile },
    );
    const { tcp } = await gateway('--config', path);
    const peer = await client(tcp);
    await expect.poll(async () => ((await peer.get(['devices', 'thermostat'])).body as { online: boolean }).online, { timeout: 10_000 }).toBe(true);
    expect((await peer.get(['devices', 'thermostat', 'properties', 'setpoint'])).body).toBe(21.5);
    expect((await peer.put(['devices', 'thermostat', 'properties', 'setpoint'], 19)).body).toBe(19);
    expect(setpoint).toBe(19);
  });

  it('refuse a bad profile with the file, the line, the key and what was expected (exit 2)', async () => {
    const path = await project('profiles: [./profiles/*.yaml]\ndevices:\n  - { id: t, driver: ble, profile: thermometer }\n', {
      'thermometer.yaml': [
        'driver: ble',
        'title: Thermometer',
        'service: 181a',
        'properties:',
        '  temperature:',
        '    type: number',
        '    unitt: °C',
        '    characteristic: 2a6e',
        '    codec: { type: int24, scale: 0.01 }',
        '',
      ].join('\n'),
    });
    const run = pasarela('--tcp', '0', '--http', '0', '--config', path);
    expect((await run.exited).code).toBe(2);
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain('profiles/thermometer.yaml:7: properties.temperature.unitt: unknown field');
    expect(stderr).toMatch(/profiles\/thermometer\.yaml:9: properties\.temperature\.codec\.type: expected one of uint8, int8, uint16le, int16le, .*, got "int24"/);
  });

  it('refuse a file that is no profile, a pattern that matches nothing, and broken YAML (exit 2)', async () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ 'x.yaml': 'title: No driver\nproperties: {}\n' }, 'profiles: [./profiles/*.yaml]', /profiles\/x\.yaml:1: driver: expected the name of the driver this profile is for/],
      [{}, 'profiles: [./profiles/*.yml]', /profiles\[0\]: "\.\/profiles\/\*\.yml" matches no file/],
      [{ 'y.yaml': 'driver: mqtt\nproperties: { a: [1, 2 }\n' }, 'profiles: [./profiles/y.yaml]', /profiles\/y\.yaml:2:\d+: YAML syntax error at line 2/],
    ];
    for (const [files, line, message] of cases) {
      const run = pasarela('--tcp', '0', '--http', '0', '--config', await project(`${line}\n`, files));
      expect((await run.exited).code).toBe(2);
      expect(run.stderr.join('\n')).toMatch(message);
    }
  });

  it('warn about a profile file for a driver that is not running', async () => {
    const path = await project('profiles: [./profiles/*.yaml]\n', { 'lamp.yaml': 'driver: bel\nproperties: {}\n' });
    const { run } = await gateway('--config', path);
    const warning = run.stdout.map(parseJson).find((record) => record?.driver === 'bel');
    expect(warning).toMatchObject({ level: 40, msg: expect.stringMatching(/lamp\.yaml is for driver "bel", which is not running/) });
  });
});


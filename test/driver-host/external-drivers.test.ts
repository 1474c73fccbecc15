/**
 * Drivers from outside Pasarela, through the real `pasarela` command: `drivers:` in a
 * config loads a package from the config folder's node_modules and a file relative to
 * it, `GET ["drivers"]` lists them beside the built-in ones with version and origin,
 * and a module that cannot be used is refused, naming the module and why (exit 2).
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../gateway/client.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { connectedClient } from '../support/connected-client.js';
import { pasarelaRuns, ROOT } from '../support/pasarela.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'drivers');
const { pasarela, gateway } = pasarelaRuns();
const cleanups = cleanupsAfterEach();
let dir: string;
let project: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-drivers-'));
  project = join(dir, 'gateway');
  // A project folder as a user has it: drivers in files beside the config, and a
  // package in node_modules whose package.json exports it for `import` only.
  await mkdir(join(project, 'drivers'), { recursive: true });
  for (const file of ['steady.js', 'faulty.js', 'no-default.js', 'not-a-driver.js', 'broken.js']) await copyFile(join(FIXTURES, file), join(project, 'drivers', file));
  const pkg = join(project, 'node_modules', 'pasarela-driver-steady');
  await mkdir(join(pkg, 'lib'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'pasarela-driver-steady', version: '2.0.1', type: 'module', exports: { '.': { import: './lib/driver.js' } } }));
  await writeFile(join(pkg, 'lib', 'driver.js'), "import steady from './steady.js';\nexport default { ...steady, name: 'packaged', version: 'ignored: the package.json says' };\n");
  await copyFile(join(FIXTURES, 'steady.js'), join(pkg, 'lib', 'steady.js'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(name: string, lines: string[]): Promise<string> {
  const path = join(project, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const client = (tcp: number): Promise<Client> => connectedClient(tcp, cleanups);

describe('drivers from outside', () => {
  it('load a package and a file from the config folder; GET ["drivers"] lists each with its version and origin', async () => {
    const path = await config('pasarela.yaml', [
      'drivers:',
      '  - { module: pasarela-driver-steady }',
      '  - { module: ./drivers/steady.js, options: { greeting: hola } }',
      '  - { module: ./drivers/steady.js, name: second }',
      'devices:',
      // A built-in driver beside them: BLE without an adapter keeps its device offline.
      '  - { id: coffee, driver: ble, profile: coffee-maker }',
    ]);
    // Started from another folder: modules resolve from the config's, not the working one.
    const { tcp } = await gateway('--config', path);
    const peer = await client(tcp);
    expect((await peer.get(['drivers'])).body).toEqual([
      { name: 'ble', version: expect.stringMatching(/^\d+\.\d+\.\d+/), origin: 'built-in', state: 'running', devices: 1, failures: 0 },
      {
        name: 'packaged',
        version: '2.0.1',
        origin: 'package',
        module: 'pasarela-driver-steady',
        path: join(project, 'node_modules', 'pasarela-driver-steady', 'lib', 'driver.js'),
        state: 'running',
        devices: 1,
        failures: 0,
      },
      { name: 'steady', version: '1.2.3', origin: 'file', module: './drivers/steady.js', path: join(project, 'drivers', 'steady.js'), state: 'running', devices: 1, failures: 0 },
      { name: 'second', version: '1.2.3', origin: 'file', module: './drivers/steady.js', path: join(project, 'drivers', 'steady.js'), state: 'running', devices: 1, failures: 0 },
    ]);
    const devices = (await peer.get(['devices'])).body as { id: string; driver: string; online: boolean }[];
    expect(devices.map(({ driver, online }) => ({ driver, online })).sort((a, b) => a.driver.localeCompare(b.driver))).toEqual([
      { driver: 'ble', online: false },
      { driver: 'packaged', online: true },
      { driver: 'second', online: true },
      { driver: 'steady', online: true },
    ]);
    // The entry's options reach the driver (its device is the one named after it: the ids clash).
    const steady = devices.find((device) => device.driver === 'steady')!.id;
    expect((await peer.get(['devices', steady, 'properties', 'greeting'])).body).toBe('hola');
    expect((await peer.get(['devices', steady, 'properties', 'count'])).body).toBe(1);
    expect((await peer.get(['gateway'])).body).toMatchObject({ drivers: ['ble', 'packaged', 'steady', 'second'] });
  });

  const refusals: [string, string, RegExp][] = [
    ['a package that is not installed', 'pasarela-driver-hue', /drivers\[0\]\.module: cannot load driver "pasarela-driver-hue": not found: no package "pasarela-driver-hue" in .*node_modules .*\(install it there: npm install pasarela-driver-hue\)/],
    ['a file that is not there', './drivers/nothing.js', /drivers\[0\]\.module: cannot load driver "\.\/drivers\/nothing\.js": not found: there is no .*drivers\/nothing\.js/],
    ['a module with no default export', './drivers/no-default.js', /cannot load driver "\.\/drivers\/no-default\.js": no default export \(export default a Driver, or a function that returns one\)/],
    ['a default export that is not a Driver', './drivers/not-a-driver.js', /cannot load driver "\.\/drivers\/not-a-driver\.js": its default export is not a Driver: stop: expected a function, got nothing/],
    ['a module that does not parse', './drivers/broken.js', /cannot load driver "\.\/drivers\/broken\.js": cannot be imported: .*(Unexpected|SyntaxError|Expected identifier)/s],
  ];
  for (const [what, module, message] of refusals) {
    it(`refuse ${what}, naming the module, the line and why (exit 2)`, async () => {
      const path = await config(`refused-${module.replace(/\W/g, '')}.yaml`, ['listen: { tcp: 0 }', 'drivers:', `  - { module: "${module}" }`]);
      const run = pasarela('--http', '0', '--config', path);
      expect((await run.exited).code).toBe(2);
      const stderr = run.stderr.join('\n');
      expect(stderr).toMatch(message);
      expect(stderr).toContain(`${path}:3: drivers[0].module`);
    });
  }

  it('refuse a misspelt key of an entry, listing the ones it takes (exit 2)', async () => {
    const path = await config('misspelt.yaml', ['drivers:', '  - { modul: ./drivers/steady.js }']);
    const run = pasarela('--tcp', '0', '--http', '0', '--config', path);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('\n')).toContain('drivers[0].modul: expected one of the keys module, name, options, restart, got unknown key "modul"');
  });

  it('refuse two drivers of one name', async () => {
    const path = await config('twice.yaml', ['drivers:', '  - { module: ./drivers/steady.js }', '  - { module: ./drivers/steady.js }']);
    const run = pasarela('--tcp', '0', '--http', '0', '--config', path);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('\n')).toContain('drivers[1]: driver "steady" is loaded by drivers[0] too (give one of them a name:)');
  });
});

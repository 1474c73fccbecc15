/**
 * How a `drivers:` module is found and made into a driver, on files written here:
 * packages (scoped, `exports` with conditions and subpaths, or only `main`) looked up
 * in node_modules from the config folder upwards, folders and files by path, default
 * exports that are a Driver, a factory or a class, and each way that fails.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverModuleError, loadDriverModule } from '../../gateway/driver-host/module-loader.js';

let root: string;
let configDir: string;

const driverSource = (name: string) => `export default { name: '${name}', async start() {}, async stop() {} };\n`;

async function files(entries: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(entries)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pasarela-loader-'));
  configDir = join(root, 'home', 'gateway');
  await files({
    // In the node_modules of a folder above the config's: found, as Node finds it.
    'home/node_modules/@acme/pasarela-lamp/package.json': JSON.stringify({
      name: '@acme/pasarela-lamp',
      version: '3.1.4',
      type: 'module',
      exports: { '.': { types: './index.d.ts', import: './esm/index.js', require: './cjs/index.cjs' }, './bulb': { import: './esm/bulb.js' } },
    }),
    'home/node_modules/@acme/pasarela-lamp/esm/index.js': driverSource('lamp'),
    'home/node_modules/@acme/pasarela-lamp/esm/bulb.js': driverSource('bulb'),
    'home/gateway/node_modules/plain-main/package.json': JSON.stringify({ name: 'plain-main', version: '0.0.9', type: 'module', main: 'lib/main.js' }),
    'home/gateway/node_modules/plain-main/lib/main.js': driverSource('main'),
    'home/gateway/drivers/factory.js': "export default (options) => ({ name: options.name ?? 'made', version: '0.3.0', async start() {}, async stop() {} });\n",
    'home/gateway/drivers/klass.js': "export default class Bell { constructor(options) { this.name = 'bell-' + options.room; } async start() {} async stop() {} }\n",
    'home/gateway/drivers/throws.js': "export default () => { throw new Error('no bridge configured'); };\n",
    'home/gateway/drivers/folder/package.json': JSON.stringify({ name: 'folder-driver', version: '1.0.0', type: 'module', main: 'driver.js' }),
    'home/gateway/drivers/folder/driver.js': driverSource('folder'),
    'home/gateway/drivers/nameless.js': 'export default { async start() {}, stop: 5 };\n',
  });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadDriverModule', () => {
  it('finds a scoped package above the config folder through its exports, with the import condition', async () => {
    const loaded = await loadDriverModule('@acme/pasarela-lamp', configDir);
    expect(loaded.driver.name).toBe('lamp');
    expect(loaded.source).toEqual({ origin: 'package', module: '@acme/pasarela-lamp', path: join(root, 'home/node_modules/@acme/pasarela-lamp/esm/index.js'), version: '3.1.4' });
    expect((await loadDriverModule('@acme/pasarela-lamp/bulb', configDir)).driver.name).toBe('bulb');
  });

  it('takes a package without exports by its main', async () => {
    expect(await loadDriverModule('plain-main', configDir)).toMatchObject({ driver: { name: 'main' }, source: { origin: 'package', version: '0.0.9' } });
  });

  it('calls a factory with the options and constructs a class', async () => {
    expect(await loadDriverModule('./drivers/factory.js', configDir, { name: 'kitchen' })).toMatchObject({ driver: { name: 'kitchen' }, source: { origin: 'file', version: '0.3.0' } });
    expect((await loadDriverModule('./drivers/klass.js', configDir, { room: 'hall' })).driver.name).toBe('bell-hall');
  });

  it('takes a folder by its package.json', async () => {
    expect(await loadDriverModule('./drivers/folder', configDir)).toMatchObject({ driver: { name: 'folder' }, source: { origin: 'file', version: '1.0.0', path: join(configDir, 'drivers/folder/driver.js') } });
  });

  it('says why a module cannot be used', async () => {
    const reasons: [string, RegExp][] = [
      ['@acme/pasarela-lamp/switch', /its package\.json exports no "\.\/switch"/],
      ['pasarela-driver-none', /not found: no package "pasarela-driver-none" in .*home\/gateway\/node_modules or the node_modules folders above it/],
      ['./drivers/throws.js', /its default export, a driver factory, threw: no bridge configured/],
      ['./drivers/nameless.js', /its default export is not a Driver: name: expected a non-empty string, got nothing; stop: expected a function, got number/],
      ['@', /not a package name or a path/],
    ];
    for (const [module, reason] of reasons) {
      const error = await loadDriverModule(module, configDir).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error, module).toBeInstanceOf(DriverModuleError);
      expect((error as DriverModuleError).module).toBe(module);
      expect((error as Error).message, module).toMatch(reason);
    }
  });
});

/**
 * `npm install -g pasarela` from a registry, with a temporary prefix, offline, as a
 * Raspberry Pi would: the command on the PATH, the HCI socket's binding built, and the
 * one line that says what to run when it is not. A global install has no lockfile of
 * its own: npm follows the package's npm-shrinkwrap.json, but only for a package whose
 * registry metadata says it has one, so the install comes from a registry on loopback
 * (test/support/npm-registry.ts) that serves the tarball and nothing else; every other
 * tarball must come from the npm cache.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BINDING } from '../../drivers/ble/index.js';
import { parseLogLine, startInstalled } from '../support/installed.js';
import { startNpmRegistry, type NpmRegistry } from '../support/npm-registry.js';
import { NPM_ENV, packPasarela, projectPackage, type PackageJson } from '../support/packed.js';

const run = promisify(execFile);
const HCI_SOCKET = '@abandonware/bluetooth-hci-socket';
/** Node's own headers, when this Node has them: node-gyp then builds the binding without downloading them. */
const NODE_DIR = dirname(dirname(process.execPath));
const nodeHeaders = existsSync(join(NODE_DIR, 'include', 'node', 'common.gypi')) ? { npm_config_nodedir: NODE_DIR } : {};
/**
 * The loopback registry is the only server npm may ask (tarball URLs in the
 * shrinkwrap are rewritten to it), and the cache answers first.
 */
const GLOBAL_ENV = { ...NPM_ENV, npm_config_offline: 'false', npm_config_prefer_offline: 'true', npm_config_replace_registry_host: 'always', ...nodeHeaders };

let dir: string;
let tarball: string;
let project: PackageJson;
let shrinkwrap: { packages: Record<string, { version?: string }> };

beforeAll(async () => {
  project = await projectPackage();
  tarball = await packPasarela();
  dir = await mkdtemp(join(tmpdir(), 'pasarela-global-'));
  shrinkwrap = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/npm-shrinkwrap.json'], { maxBuffer: 16 * 1024 * 1024 })).stdout) as typeof shrinkwrap;
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm install -g pasarela, from a registry, with a temporary prefix', () => {
  let registry: NpmRegistry;
  let prefix: string;
  let globalInstall: { stdout: string; stderr: string };
  const hciSocket = () => join(prefix, 'lib', 'node_modules', 'pasarela', 'node_modules', '@abandonware', 'bluetooth-hci-socket');
  const binding = () => join(hciSocket(), 'build', 'Release', 'bluetooth_hci_socket.node');
  /** The prefix's bin folder first on the PATH, as a global install is used. */
  const pathEnv = () => ({ ...GLOBAL_ENV, PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH ?? ''}` });
  let bleConfig: string;

  beforeAll(async () => {
    registry = await startNpmRegistry(tarball, project as unknown as { name: string; version: string });
    prefix = join(dir, 'prefix');
    // What the README tells a Pi to run, with --prefix (and --registry) for the test.
    globalInstall = await run('npm', ['install', '-g', '--prefix', prefix, '--registry', registry.url, `--allow-scripts=${HCI_SOCKET}`, 'pasarela'], { cwd: dir, env: GLOBAL_ENV, maxBuffer: 16 * 1024 * 1024 });
    bleConfig = join(dir, 'ble.yaml');
    // A real adapter configured: the command loads noble's HCI binding.
    await writeFile(bleConfig, 'listen: { host: 127.0.0.1, tcp: 0, http: 0 }\nble: { adapter: hci }\ndevices:\n  - { id: coffee, driver: ble, profile: coffee-maker }\n');
  }, 300_000);

  afterAll(async () => {
    await registry?.close();
  });

  it('takes the tarball from the registry and every dependency from the shrinkwrap, none from the network', () => {
    // The tarball itself may come from the cache too (the same bytes were installed above).
    expect(registry.served).toContain('/pasarela');
    expect(registry.served.filter((path) => path !== '/pasarela')).toEqual(registry.served.includes(`/pasarela/-/pasarela-${project.version}.tgz`) ? [`/pasarela/-/pasarela-${project.version}.tgz`] : []);
    // npm may look up the direct dependencies' metadata first (and is told 404); no tarball but ours is asked for.
    expect(registry.missed.filter((path) => path.endsWith('.tgz'))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(prefix, 'lib', 'node_modules', 'pasarela', 'node_modules', 'ws', 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(shrinkwrap.packages['node_modules/ws']?.version);
  });

  it('puts a working pasarela on the PATH', async () => {
    const { stdout } = await run('bash', ['-c', 'command -v pasarela && pasarela --version'], { env: pathEnv() });
    expect(stdout.trim().split('\n')).toEqual([join(prefix, 'bin', 'pasarela'), project.version]);
  });

  it('builds the HCI socket binding, allowed by --allow-scripts', () => {
    expect(existsSync(binding())).toBe(true);
    const uncovered = [...globalInstall.stderr.matchAll(/^npm warn install-scripts\s+(\S+)@\S+ \(/gm)].map((match) => match[1]);
    expect(uncovered).not.toContain(HCI_SOCKET);
  });

  it('runs from the PATH with a Bluetooth adapter configured; says in one line how to build a missing binding, and that command builds it', async () => {
    const first = await startInstalled('pasarela', ['--config', bleConfig], { cwd: dir, env: pathEnv() });
    await first.stop();
    // With the binding built, noble loads it: "no Bluetooth adapter" where there is none (here), scanning where there is one.
    expect(first.lines.some((line) => String(parseLogLine(line)?.msg).startsWith(NO_BINDING))).toBe(false);

    await rm(join(hciSocket(), 'build'), { recursive: true, force: true });
    const second = await startInstalled('pasarela', ['--config', bleConfig], { cwd: dir, env: pathEnv() });
    await second.stop();
    const reports = second.lines.filter((line) => /bluetooth_hci_socket|bluetooth-hci-socket/.test(line));
    expect(reports).toHaveLength(1);
    const msg = String(parseLogLine(reports[0]!)?.msg);
    const fix = `npm rebuild -g --prefix ${prefix} ${HCI_SOCKET} --allow-scripts=${HCI_SOCKET}`;
    expect(msg).toBe(`${NO_BINDING} is not built, so BLE devices stay offline; build it with: ${fix} (it compiles: needs python3, make and g++)`);

    // The command it names, as a person would paste it.
    await run('bash', ['-c', fix], { cwd: dir, env: pathEnv(), maxBuffer: 16 * 1024 * 1024 });
    expect(existsSync(binding())).toBe(true);
    const third = await startInstalled('pasarela', ['--config', bleConfig], { cwd: dir, env: pathEnv() });
    await third.stop();
    expect(third.lines.some((line) => String(parseLogLine(line)?.msg).startsWith(NO_BINDING))).toBe(false);
  }, 180_000);
});

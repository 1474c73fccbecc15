/**
 * The package as others get it: `npm pack` (which runs `prepare`, the build, as a
 * publish does, and `prepack`, which adds npm-shrinkwrap.json), the tarball installed
 * into an empty folder with no network, then each entry (`pasarela`,
 * `pasarela/client`, `pasarela/driver`) imported from Node and type-checked, the
 * client bundled for browsers from the install, and the installed `pasarela` command
 * run. Then `npm install -g pasarela` from a registry, as on a Raspberry Pi: the
 * command on the PATH, the HCI socket's binding built, and the one line that says
 * what to run when it is not.
 *
 * Offline installs need a lockfile here: npm 11 reads full registry metadata to
 * resolve a version range, and the npm cache on this machine holds only the
 * abbreviated metadata and the tarballs that the project's own (locked) install
 * fetched. So the consumer folder gets a lockfile made from the tarball's
 * npm-shrinkwrap.json (the project's locked runtime packages). npm still checks them
 * against the ranges in the tarball's package.json. A global install has no lockfile
 * of its own: npm follows the package's npm-shrinkwrap.json, but only for a package
 * whose registry metadata says it has one, so the global install comes from a
 * registry on loopback (test/support/npm-registry.ts) that serves the tarball and
 * nothing else; every other tarball must come from the cache.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BINDING } from '../../drivers/ble/index.js';
import { bundleForBrowser, nodeOnlyParts } from '../support/browser-bundle.js';
import { startNpmRegistry, type NpmRegistry } from '../support/npm-registry.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'package-consumer');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface PackageJson {
  name: string;
  version: string;
  license?: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  version?: string;
  resolved?: string;
  integrity?: string;
  [key: string]: unknown;
}

interface Shrinkwrap {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

const run = promisify(execFile);
/** npm never reaches the network from this test. */
const NPM_ENV = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
const HCI_SOCKET = '@abandonware/bluetooth-hci-socket';
/** Node's own headers, when this Node has them: node-gyp then builds the binding without downloading them. */
const NODE_DIR = dirname(dirname(process.execPath));
const nodeHeaders = existsSync(join(NODE_DIR, 'include', 'node', 'common.gypi')) ? { npm_config_nodedir: NODE_DIR } : {};
/**
 * For the global install: the loopback registry is the only server npm may ask
 * (tarball URLs in the shrinkwrap are rewritten to it), and the cache answers first.
 */
const GLOBAL_ENV = { ...NPM_ENV, npm_config_offline: 'false', npm_config_prefer_offline: 'true', npm_config_replace_registry_host: 'always', ...nodeHeaders };

let dir: string;
let app: string;
let tarball: string;
let installWarnings: string;
let project: PackageJson;
let shrinkwrap: Shrinkwrap;

async function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npm', args, { cwd, env: NPM_ENV, maxBuffer: 16 * 1024 * 1024 });
}

/** The consumer's lockfile: the tarball, and its shrinkwrapped runtime packages where npm would hoist them. */
function consumerLock(tarballSpec: string, shrinkwrap: Shrinkwrap): object {
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { pasarela: tarballSpec } },
    'node_modules/pasarela': {
      version: project.version,
      resolved: tarballSpec,
      license: project.license,
      dependencies: project.dependencies,
      bin: project.bin,
      engines: project.engines,
    },
  };
  for (const [path, entry] of Object.entries(shrinkwrap.packages)) {
    if (path !== '') packages[path] = entry;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

/** A JSON log line of the command, or undefined for anything else. */
function parseLogLine(line: string): { msg?: unknown; http?: unknown } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as { msg?: unknown; http?: unknown };
  } catch {
    return undefined;
  }
}

/** The installed command, started until its `ready` line; `lines` keeps its output. */
async function startInstalled(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ http: number; lines: string[]; stop(): Promise<void> }> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const http = await new Promise<number>((resolve, reject) => {
      let partial = '';
      const timer = setTimeout(() => reject(new Error(`no ready line:\n${lines.join('\n')}`)), 20_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        for (const line of parts) {
          const record = parseLogLine(line);
          if (record?.msg === 'ready' && typeof record.http === 'number') {
            clearTimeout(timer);
            resolve(record.http);
          }
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`exited ${code}:\n${lines.join('\n')}`)));
    });
    return { http, lines, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describe('the packed package, installed offline', () => {
  beforeAll(async () => {
    project = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
    dir = await mkdtemp(join(tmpdir(), 'pasarela-pack-'));
    await npm(['pack', '--pack-destination', dir], ROOT);
    tarball = join(dir, `pasarela-${project.version}.tgz`);
    app = join(dir, 'app');
    await mkdir(app);
    const spec = `file:${tarball}`;
    shrinkwrap = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/npm-shrinkwrap.json'], { maxBuffer: 16 * 1024 * 1024 })).stdout) as Shrinkwrap;
    const lock = consumerLock(spec, shrinkwrap);
    const runtime = Object.keys((lock as { packages: Record<string, unknown> }).packages).map((path) => path.replace(/^.*node_modules\//, ''));
    // The same install-script choices as the project makes for the packages the consumer gets.
    const allowScripts = Object.fromEntries(Object.entries(project.allowScripts ?? {}).filter(([name]) => runtime.includes(name)));
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { pasarela: spec }, allowScripts }, null, 2));
    await writeFile(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
    for (const file of ['consumer.mjs', 'consumer.ts', 'tsconfig.json']) await copyFile(join(FIXTURE, file), join(app, file));
    const install = await npm(['install', '--offline', '--no-audit', '--no-fund', tarball], app);
    installWarnings = install.stderr;
  }, 300_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ships the built entries, the command and the dashboard, and no tests, sources or stale files', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean).map((path) => path.replace(/^package\//, ''));
    for (const needed of [
      'package.json',
      'README.md',
      'npm-shrinkwrap.json',
      'dist/gateway/index.js',
      'dist/gateway/index.d.ts',
      'dist/gateway/client.js',
      'dist/gateway/client.d.ts',
      'dist/gateway/client-node.js',
      'dist/gateway/jstp/codec/cbor-link.js',
      'dist/drivers/sdk.js',
      'dist/drivers/sdk.d.ts',
      'dist/gateway/cli.js',
      'web/dist/index.html',
    ]) {
      expect(files).toContain(needed);
    }
    expect(files.filter((path) => !/^(package\.json|README\.md|npm-shrinkwrap\.json|dist\/|web\/dist\/[^/.][^/]*$)/.test(path))).toEqual([]);
    expect(files.filter((path) => /(^|\/)test\/|\.test\./.test(path))).toEqual([]);
    // Each compiled module has its source: nothing left over from files since moved or removed.
    const orphans = files.filter((path) => path.startsWith('dist/') && path.endsWith('.js') && !existsSync(join(ROOT, path.slice('dist/'.length).replace(/\.js$/, '.ts'))));
    expect(orphans).toEqual([]);
  });

  it('pins in npm-shrinkwrap.json the runtime packages the suite runs with, each with its tarball and integrity, and no dev tool', async () => {
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const entries = Object.entries(shrinkwrap.packages).filter(([path]) => path !== '');
    expect(entries.length).toBeGreaterThan(50);
    for (const [path, entry] of entries) {
      expect(entry.version, path).toBe(lock.packages[path]?.version);
      expect(lock.packages[path]?.dev, path).toBeUndefined();
      expect(entry.resolved, path).toMatch(/^https:\/\/registry\.npmjs\.org\/.+\.tgz$/);
      expect(entry.integrity, path).toMatch(/^sha512-/);
    }
    for (const dev of ['vitest', 'cbor-x', 'typescript', 'playwright-core']) expect(shrinkwrap.packages[`node_modules/${dev}`]).toBeUndefined();
    expect(shrinkwrap.packages['node_modules/@abandonware/bluetooth-hci-socket']).toMatchObject({ optional: true });
    // Written for the tarball only: left in the project, it would stand in for package-lock.json.
    expect(existsSync(join(ROOT, 'npm-shrinkwrap.json'))).toBe(false);
  });

  it('installs with no network and no build, and the project covers the install scripts its dependencies bring', async () => {
    expect(existsSync(join(app, 'node_modules', 'pasarela', 'dist', 'gateway', 'index.js'))).toBe(true);
    // Nothing was built at install time: the tarball's dist is what runs.
    expect(existsSync(join(app, 'node_modules', 'pasarela', 'web', '.dist-staging'))).toBe(false);
    // npm 11 lists the packages whose install scripts the consumer's allowScripts does not
    // cover. The tarball itself is listed for its `prepare`, which npm never runs for a tarball.
    const uncovered = [...installWarnings.matchAll(/^npm warn install-scripts\s+(\S+)@\S+ \(/gm)].map((match) => match[1]);
    expect(uncovered.filter((name) => name !== 'pasarela')).toEqual([]);
    // Test-only dependencies stay out.
    expect(existsSync(join(app, 'node_modules', 'cbor-x'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'vitest'))).toBe(false);
  });

  it('imports each entry from Node: an engine answers a local GET, a driver runs in a gateway, the client reaches it', async () => {
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: app });
    const seen = JSON.parse(stdout) as Record<string, any>;
    expect(seen.exports.pasarela).toEqual(expect.arrayContaining(['startGateway', 'Engine', 'Status', 'PasarelaError', 'ErrorCode', 'loadConfig', 'parseConfig', 'validateDispatch', 'driverPlugin']));
    expect(seen.exports.client).toEqual(expect.arrayContaining(['connect', 'Client', 'AnswerError', 'Status']));
    expect(seen.exports.driver).toEqual(expect.arrayContaining(['PasarelaError', 'Status', 'ErrorCode', 'createConverter', 'int16le', 'loadProfile', 'describeProfile', 'profileSchema']));
    expect(seen.localGet).toEqual({ status: 200, body: 'hello pi' });
    expect(seen.localMissing).toEqual({ status: 404, isPasarelaError: true });
    expect(seen.sameErrorClass).toBe(true);
    expect(seen.status).toEqual({ ok: 200, notFound: 404 });
    expect(seen.badProfile).toEqual({ isProfileError: true, message: expect.stringMatching(/properties\.temperature\.writeable/) });
    expect(seen.gateway).toMatchObject({ name: 'pasarela', version: project.version, drivers: ['thermometer'] });
    expect(seen.devices).toEqual([expect.objectContaining({ id: 'thermometer-hall', driver: 'thermometer', online: true })]);
    expect(seen.reading).toBe(21.5);
    // The dashboard is served from the installed package's web/dist.
    expect(seen.dashboard).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/html/), script: expect.stringMatching(/^main-/), scriptStatus: 200 });
    expect(seen.deepImport).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('gives each entry its types (tsc, NodeNext, in the consumer folder)', async () => {
    const types = join(ROOT, 'node_modules', '@types');
    const result = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--typeRoots', types, '--types', 'node'], { cwd: app }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe('');
  });

  it('bundles pasarela/client from the install for browsers, without Node built-ins', async () => {
    await writeFile(join(app, 'browser-entry.mjs'), "export { connect, Client } from 'pasarela/client';\n");
    const bundle = await bundleForBrowser('browser-entry.mjs', app);
    expect(nodeOnlyParts(bundle)).toEqual([]);
    expect(bundle.inputs).toContain('node_modules/pasarela/dist/gateway/client.js');
    expect(bundle.outputs.map((output) => output.entryPoint)).toContain('node_modules/pasarela/dist/gateway/jstp/codec/cbor-link.js');
  });

  it('runs the installed command: npx pasarela --version, and a gateway serving the dashboard', async () => {
    const { stdout } = await run('npx', ['pasarela', '--version'], { cwd: app, env: NPM_ENV });
    expect(stdout.trim()).toBe(project.version);

    const gateway = await startInstalled(join(app, 'node_modules', '.bin', 'pasarela'), ['--host', '127.0.0.1', '--tcp', '0', '--http', '0'], { cwd: app });
    try {
      const page = await fetch(`http://127.0.0.1:${gateway.http}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script[^>]+src="main-[A-Z0-9]{8}\.js"/);
    } finally {
      await gateway.stop();
    }
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
});

/**
 * The package as others get it: `npm pack` (which runs `prepare`, the build, as a
 * publish does), the tarball installed into an empty folder with no network, then
 * each entry (`pasarela`, `pasarela/client`, `pasarela/driver`, `pasarela/testing`,
 * `pasarela/security`) imported from Node and type-checked, the client and the
 * security entry bundled for browsers from the
 * install, and the installed `pasarela` command run. How the offline install works
 * (a lockfile made from the project's): test/support/packed.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser, nodeOnlyParts } from '../support/browser-bundle.js';
import { startInstalled } from '../support/installed.js';
import { installPasarela, NPM_ENV, packPasarela, projectPackage, type PackageJson } from '../support/packed.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'package-consumer');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const run = promisify(execFile);

let dir: string;
let app: string;
let tarball: string;
let installWarnings: string;
let project: PackageJson;
let shrinkwrap: { packages: Record<string, LockEntry> };

interface LockEntry {
  dev?: boolean;
  version?: string;
  resolved?: string;
  integrity?: string;
  optional?: boolean;
}

describe('the packed package, installed offline', () => {
  beforeAll(async () => {
    project = await projectPackage();
    tarball = await packPasarela();
    dir = await mkdtemp(join(tmpdir(), 'pasarela-pack-'));
    app = join(dir, 'app');
    installWarnings = await installPasarela(app, tarball);
    shrinkwrap = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/npm-shrinkwrap.json'], { maxBuffer: 16 * 1024 * 1024 })).stdout) as typeof shrinkwrap;
    for (const file of ['consumer.mjs', 'consumer.ts', 'tsconfig.json']) await copyFile(join(FIXTURE, file), join(app, file));
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
      'dist/testing/index.js',
      'dist/testing/index.d.ts',
      'dist/gateway/security/index.js',
      'dist/gateway/security/index.d.ts',
      'templates/driver/package.json',
      'templates/driver/index.js',
      'templates/driver/test/contract.test.js',
      'dist/gateway/cli.js',
      'web/dist/index.html',
    ]) {
      expect(files).toContain(needed);
    }
    expect(files.filter((path) => !/^(package\.json|README\.md|npm-shrinkwrap\.json|dist\/|templates\/driver\/|web\/dist\/[^/.][^/]*$)/.test(path))).toEqual([]);
    // The driver template's contract test is a file `pasarela new driver` writes, not one of ours.
    expect(files.filter((path) => !path.startsWith('templates/driver/') && /(^|\/)test\/|\.test\./.test(path))).toEqual([]);
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
    expect(seen.exports.driver).toEqual(
      expect.arrayContaining(['PasarelaError', 'Status', 'ErrorCode', 'createConverter', 'int16le', 'loadProfile', 'describeProfile', 'profileSchema', 'readProfileFile', 'checkValue', 'applyDefaults', 'Backoff', 'z']),
    );
    expect(seen.exports.testing).toEqual(['ContractGateway', 'describeDriverContract']);
    expect(seen.contractRead).toEqual({ status: 200, body: 21.5 });
    expect(seen.exports.security).toEqual(expect.arrayContaining(['createIdentity', 'ClientSecurityStage', 'nobleSuite', 'issueGrant', 'verifyChain', 'signDispatch']));
    expect(seen.exports.pasarela).toEqual(expect.arrayContaining(['securityPlugin', 'nodeSuite', 'readIdentityFile']));
    expect(seen.signature).toBe(true);
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

  it('bundles pasarela/security from the install for browsers (the page signs with it), without Node built-ins', async () => {
    await writeFile(join(app, 'browser-security.mjs'), "export { ClientSecurityStage, createIdentity, nobleSuite, signDispatch } from 'pasarela/security';\n");
    const bundle = await bundleForBrowser('browser-security.mjs', app);
    expect(nodeOnlyParts(bundle)).toEqual([]);
    expect(bundle.inputs).toContain('node_modules/pasarela/dist/gateway/security/index.js');
    expect(bundle.inputs.some((input) => input.includes('node_modules/@noble/curves/'))).toBe(true);
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
});

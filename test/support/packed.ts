/**
 * Pasarela packed as a publish packs it (`npm pack`, which runs `prepare`, the
 * build), and installed offline into folders of the tests' own.
 *
 * The package tests share one tarball: packing rebuilds dist/ in the source tree, so
 * two test files packing at once would clobber each other's build. A lock folder
 * serializes the packs, and the tarball is kept (under node_modules/.cache) for as
 * long as the files it is built from are unchanged.
 *
 * Offline installs need a lockfile: npm 11 reads full registry metadata to resolve a
 * version range, and the npm cache on this machine holds only the abbreviated
 * metadata and the tarballs that the project's own (locked) install fetched. So a
 * consumer folder gets a lockfile made from the project's package-lock.json: its
 * runtime packages, at the versions the suite runs with. npm still checks them
 * against the ranges in the tarball's package.json.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './pasarela.js';

const run = promisify(execFile);

export interface PackageJson {
  name: string;
  version: string;
  license?: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  [key: string]: unknown;
}

/**
 * better-sqlite3's install script asks prebuild-install for the binary its authors
 * publish (on GitHub, which this machine does not reach), and otherwise compiles
 * SQLite, about a minute on two cores for every install. The binary the project's own
 * install built is that same binary (same version, Node ABI, platform), so it is
 * offered as the local prebuild, packed the way the published ones are.
 */
function localPrebuilds(): Record<string, string> {
  const sqlite = join(ROOT, 'node_modules', 'better-sqlite3');
  const binary = join(sqlite, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(binary)) return {};
  const { version } = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string };
  const folder = join(ROOT, 'node_modules', '.cache', 'pasarela-prebuilds');
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  if (!existsSync(join(folder, name))) {
    mkdirSync(folder, { recursive: true });
    const partial = join(folder, `${name}.${process.pid}`);
    execFileSync('tar', ['-czf', partial, '-C', sqlite, 'build/Release/better_sqlite3.node']);
    renameSync(partial, join(folder, name));
  }
  return { npm_config_better_sqlite3_local_prebuilds: folder };
}

/** npm never reaches the network from these tests. */
export const NPM_ENV = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false', ...localPrebuilds() };

export function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npm', args, { cwd, env: NPM_ENV, maxBuffer: 16 * 1024 * 1024 });
}

export async function projectPackage(): Promise<PackageJson> {
  return JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
}

/** What the build reads: when none of it changed, the last tarball is still the one a pack would make. */
const BUILD_INPUTS = ['gateway', 'drivers', 'testing', 'templates', 'firmware-sim', 'demo', 'web', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md'];

async function buildKey(): Promise<string> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...BUILD_INPUTS], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const hash = createHash('sha256');
  for (const file of stdout.split('\0').filter(Boolean).sort()) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    hash.update(file).update('\0').update(await readFile(join(ROOT, file))).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Holds a lock folder while `work` runs; a lock left by a run that died (older than 10 minutes) is taken over. */
async function locked<T>(name: string, work: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), name);
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > 10 * 60_000) await rmdir(lock).catch(() => undefined);
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await work();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

/** The packed tarball of the current sources (packed now, or kept from the last pack of the same sources). */
export async function packPasarela(): Promise<string> {
  const rootKey = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
  return locked(`pasarela-pack-${rootKey}.lock`, async () => {
    const cache = join(ROOT, 'node_modules', '.cache', 'pasarela-pack');
    const key = await buildKey();
    const kept = join(cache, `pasarela-${key}.tgz`);
    if (existsSync(kept)) return kept;
    const dir = await mkdtemp(join(tmpdir(), 'pasarela-pack-'));
    try {
      const { version } = await projectPackage();
      await npm(['pack', '--pack-destination', dir], ROOT);
      await mkdir(cache, { recursive: true });
      for (const old of await readdir(cache)) await rm(join(cache, old), { force: true });
      await copyFile(join(dir, `pasarela-${version}.tgz`), kept);
      return kept;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/** A lockfile for a folder depending on the tarball: the tarball, and the project's locked runtime packages where npm would hoist them. */
export async function consumerLock(name: string, tarballSpec: string, project: PackageJson): Promise<{ packages: Record<string, unknown> }> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name, dependencies: { pasarela: tarballSpec } },
    'node_modules/pasarela': {
      version: project.version,
      resolved: tarballSpec,
      license: project.license,
      dependencies: project.dependencies,
      bin: project.bin,
      engines: project.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev) continue;
    // Needed by a runtime package as an optional one, and by a dev tool too.
    const { devOptional, ...rest } = entry;
    packages[path] = devOptional ? { ...rest, optional: true } : rest;
  }
  return { name, lockfileVersion: 3, requires: true, packages } as { packages: Record<string, unknown> };
}

/**
 * Makes `folder` a project depending on Pasarela's tarball and installs it offline,
 * with the project's install-script choices for the packages it gets. Returns npm's
 * warnings (stderr).
 */
export async function installPasarela(folder: string, tarball: string, manifest: Record<string, unknown> = {}): Promise<string> {
  const project = await projectPackage();
  const name = typeof manifest.name === 'string' ? manifest.name : 'consumer';
  const spec = `file:${tarball}`;
  const lock = await consumerLock(name, spec, project);
  const runtime = Object.keys(lock.packages).map((path) => path.replace(/^.*node_modules\//, ''));
  const allowScripts = Object.fromEntries(Object.entries(project.allowScripts ?? {}).filter(([dependency]) => runtime.includes(dependency)));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'package.json'), JSON.stringify({ name, private: true, type: 'module', ...manifest, dependencies: { pasarela: spec }, allowScripts }, null, 2));
  await writeFile(join(folder, 'package-lock.json'), JSON.stringify(lock, null, 2));
  const install = await npm(['install', '--offline', '--no-audit', '--no-fund', tarball], folder);
  return install.stderr;
}

/**
 * Loads a driver from outside Pasarela, as a `drivers:` entry names it: a package
 * from the `node_modules` folders of the config file's folder and above (its
 * `exports` read with Node's conditions, else its `main`), or a file or folder
 * relative to the config file. The module's default export is a Driver, or a function
 * (or class) that makes one from the entry's `options`. Each way it can fail is a
 * `DriverModuleError` that says why: not found, cannot be imported, no default
 * export, not a Driver.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exports as exportsOf, legacy } from 'resolve.exports';
import type { Driver } from '../../drivers/driver.js';
import type { DriverSource } from './supervisor.js';

/** Why a module could not be used as a driver; the message names the module. */
export class DriverModuleError extends Error {
  readonly module: string;
  readonly reason: string;
  constructor(module: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot load driver "${module}": ${reason}`, options);
    this.name = 'DriverModuleError';
    this.module = module;
    this.reason = reason;
  }
}

export interface LoadedDriver {
  readonly driver: Driver;
  readonly source: DriverSource;
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
}

const CONDITIONS = ['node', 'import', 'default'];

function isPath(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..' || isAbsolute(specifier);
}

/** `@scope/name/sub` -> `@scope/name` and `./sub`. */
function splitPackage(specifier: string): { name: string; subpath: string } | undefined {
  const parts = specifier.split('/');
  const length = specifier.startsWith('@') ? 2 : 1;
  if (parts.length < length || parts.slice(0, length).some((part) => part === '')) return undefined;
  const name = parts.slice(0, length).join('/');
  const rest = parts.slice(length).join('/');
  return { name, subpath: rest === '' ? '.' : `./${rest}` };
}

function readPackage(dir: string): PackageJson | undefined {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
}

/** The file a package (or a folder with a package.json) serves for `subpath`. */
function entryOf(module: string, dir: string, pkg: PackageJson, subpath: string): string {
  let targets: string[] | undefined;
  if (pkg.exports !== undefined) {
    try {
      targets = exportsOf(pkg as Parameters<typeof exportsOf>[0], subpath, { conditions: CONDITIONS, unsafe: true }) ?? undefined;
    } catch (error) {
      throw new DriverModuleError(module, `its package.json exports no "${subpath}" (${error instanceof Error ? error.message : String(error)})`);
    }
  } else if (subpath === '.') {
    const main = legacy(pkg as Parameters<typeof legacy>[0], { fields: ['main'] });
    targets = [typeof main === 'string' ? main : './index.js'];
  } else {
    targets = [subpath];
  }
  const target = targets?.[0];
  if (target === undefined) throw new DriverModuleError(module, `its package.json exports no "${subpath}"`);
  return join(dir, target);
}

/** The package's folder in `node_modules` of `from` or an ancestor, as Node looks for it. */
function findPackage(name: string, from: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The file to import and where it came from. */
function locate(module: string, baseDir: string): { file: string; source: Omit<DriverSource, 'version'>; pkg: PackageJson | undefined } {
  if (isPath(module)) {
    const path = resolvePath(baseDir, module);
    if (!existsSync(path)) throw new DriverModuleError(module, `not found: there is no ${path}`);
    if (statSync(path).isDirectory()) {
      const pkg = readPackage(path);
      const file = pkg ? entryOf(module, path, pkg, '.') : join(path, 'index.js');
      return { file, source: { origin: 'file', module, path: file }, pkg };
    }
    return { file: path, source: { origin: 'file', module, path }, pkg: undefined };
  }
  const parts = splitPackage(module);
  if (!parts) throw new DriverModuleError(module, 'not a package name or a path (a path starts with ./, ../ or /)');
  const dir = findPackage(parts.name, baseDir);
  if (!dir) {
    throw new DriverModuleError(module, `not found: no package "${parts.name}" in ${join(baseDir, 'node_modules')} or the node_modules folders above it (install it there: npm install ${parts.name})`);
  }
  const pkg = readPackage(dir)!;
  const file = entryOf(module, dir, pkg, parts.subpath);
  return { file, source: { origin: 'package', module, path: file }, pkg };
}

function isClass(value: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** What keeps a value from being a Driver, or nothing. */
export function driverProblems(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [`expected an object with name, start and stop, got ${value === null ? 'null' : typeof value}`];
  const candidate = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof candidate.name !== 'string' || candidate.name === '') problems.push(`name: expected a non-empty string, got ${JSON.stringify(candidate.name) ?? 'nothing'}`);
  if (typeof candidate.start !== 'function') problems.push(`start: expected a function, got ${typeof candidate.start === 'undefined' ? 'nothing' : typeof candidate.start}`);
  if (typeof candidate.stop !== 'function') problems.push(`stop: expected a function, got ${typeof candidate.stop === 'undefined' ? 'nothing' : typeof candidate.stop}`);
  if (candidate.checkProfile !== undefined && typeof candidate.checkProfile !== 'function') problems.push('checkProfile: expected a function');
  if (candidate.version !== undefined && typeof candidate.version !== 'string') problems.push('version: expected a string');
  return problems;
}

/**
 * Imports the module a `drivers:` entry names (relative to `baseDir`, the config
 * file's folder) and returns its driver, made with `options` when the default export
 * is a factory. Throws a DriverModuleError saying why it cannot.
 */
export async function loadDriverModule(module: string, baseDir: string, options: Readonly<Record<string, unknown>> = {}): Promise<LoadedDriver> {
  const { file, source, pkg } = locate(module, baseDir);
  if (!existsSync(file)) throw new DriverModuleError(module, `not found: its entry ${file} does not exist`);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(realpathSync(file)).href)) as { default?: unknown };
  } catch (error) {
    throw new DriverModuleError(module, `cannot be imported: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  let exported = loaded.default;
  if (exported === undefined) throw new DriverModuleError(module, 'no default export (export default a Driver, or a function that returns one)');
  if (typeof exported === 'function') {
    const make = exported as (options: Readonly<Record<string, unknown>>) => unknown;
    try {
      exported = await (isClass(make) ? new (make as unknown as new (options: Readonly<Record<string, unknown>>) => unknown)(options) : make(options));
    } catch (error) {
      throw new DriverModuleError(module, `its default export, a driver factory, threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  const problems = driverProblems(exported);
  if (problems.length > 0) throw new DriverModuleError(module, `its default export is not a Driver: ${problems.join('; ')}`);
  const driver = exported as Driver;
  // A package's version is its package.json's; a file's, what the driver says.
  const version = source.origin === 'package' ? pkg?.version : (driver.version ?? pkg?.version);
  return { driver, source: { ...source, ...(version === undefined ? {} : { version }) } };
}

/**
 * `pasarela new driver NAME [--dir DIR]`: writes a driver package from the template
 * in templates/driver (shipped with Pasarela): the driver, its profile as data, a
 * simulator of the device, the contract test and a README, ready for `npm test`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot, packageVersion } from '../package-version.js';
import { EXIT_FAILURE, EXIT_OK, err, noExtra, out, UsageError } from './common.js';

/** Template files whose names npm would not ship as they are. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: '.gitignore' };

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export interface DriverNames {
  /** The driver's name, as `driver:` in a device entry names it: `lamp`. */
  readonly name: string;
  /** The package: `pasarela-driver-lamp`. */
  readonly package: string;
  /** For identifiers: `Lamp`, `DeskLamp`. */
  readonly className: string;
  /** For people: `Desk lamp`. */
  readonly title: string;
}

/** The names for `NAME` (a `pasarela-driver-` prefix is dropped); throws a usage error for one npm or JavaScript would refuse. */
export function driverNames(given: string): DriverNames {
  const name = given.replace(/^pasarela-driver-/, '');
  if (!NAME.test(name)) throw new UsageError(`NAME: expected lower-case words joined by "-" (e.g. desk-lamp), got "${given}"`);
  const words = name.split('-');
  return {
    name,
    package: `pasarela-driver-${name}`,
    className: words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join(''),
    title: [words[0]![0]!.toUpperCase() + words[0]!.slice(1), ...words.slice(1)].join(' '),
  };
}

function fill(text: string, names: DriverNames): string {
  return text
    .replaceAll('__PACKAGE__', names.package)
    .replaceAll('__CLASS__', names.className)
    .replaceAll('__TITLE__', names.title)
    .replaceAll('__NAME__', names.name)
    .replaceAll('__PASARELA_VERSION__', packageVersion());
}

/** Every file under `dir`, as paths relative to it. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, path)));
    else files.push(path);
  }
  return files.sort();
}

/** Writes the package for `names` into `target` (which must not exist, or be empty); returns the files written. */
export async function writeDriverPackage(names: DriverNames, target: string): Promise<string[]> {
  const root = packageRoot();
  const template = root === undefined ? undefined : join(root, 'templates', 'driver');
  if (template === undefined || !existsSync(template)) throw new Error('the driver template is missing from this installation of Pasarela');
  if (existsSync(target) && (await readdir(target)).length > 0) throw new Error(`${target} already exists and is not empty`);
  const written: string[] = [];
  for (const file of await listFiles(template)) {
    const parts = file.split('/');
    const last = parts.pop()!;
    const destination = join(target, ...parts, RENAMED[last] ?? last);
    await mkdir(join(destination, '..'), { recursive: true });
    await writeFile(destination, fill(await readFile(join(template, file), 'utf8'), names));
    written.push(relative(target, destination));
  }
  return written;
}

export async function newCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { dir: { type: 'string' } } });
  const [kind, given, ...extra] = positionals;
  if (kind !== 'driver') throw new UsageError(kind === undefined ? 'missing what to make: pasarela new driver NAME' : `cannot make "${kind}": pasarela new driver NAME`);
  if (given === undefined) throw new UsageError('missing NAME: pasarela new driver NAME');
  noExtra(extra);
  const names = driverNames(given);
  const target = resolve(values.dir ?? names.package);
  let written: string[];
  try {
    written = await writeDriverPackage(names, target);
  } catch (error) {
    err(`pasarela new: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
  const shown = relative(process.cwd(), target) || '.';
  out(`wrote ${shown}/ (driver "${names.name}", package ${names.package}):`);
  for (const file of written) out(`  ${file}`);
  out('');
  out('next:');
  out(`  cd ${shown}`);
  out('  npm install      # pasarela, as a dev dependency (not needed inside a folder that has it)');
  out('  npm test         # the driver contract against the simulator (node --test)');
  out(`then, in a gateway's config: drivers: [{ module: ${names.package} }]`);
  return EXIT_OK;
}

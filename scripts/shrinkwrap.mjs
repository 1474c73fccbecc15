#!/usr/bin/env node
/**
 * Writes npm-shrinkwrap.json for the tarball (`prepack`) and removes it again
 * (`postpack`, with --remove). A gateway installed with `npm install -g pasarela` then
 * runs on the dependency versions the test suite ran on (package-lock.json), not on
 * whatever the ranges resolve to that day; npm's own advice for a daemon or a
 * command installed globally. Only the runtime packages go in: a shrinkwrap in the
 * project folder would replace package-lock.json for `npm install` there, which is
 * why it exists only while packing.
 *
 * The lock here may omit `resolved` for registry packages (npm's
 * omit-lockfile-registry-resolved); the shrinkwrap carries it, so that installing
 * from it needs no registry metadata, only the tarballs (matched by integrity).
 *
 *   node scripts/shrinkwrap.mjs [--remove]
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'npm-shrinkwrap.json');
const REGISTRY = 'https://registry.npmjs.org/';

if (process.argv.includes('--remove')) {
  await rm(target, { force: true });
} else {
  const project = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8'));
  const packages = {
    '': {
      name: project.name,
      version: project.version,
      license: project.license,
      dependencies: project.dependencies,
      bin: project.bin,
      engines: project.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev) continue;
    // Needed by a runtime package as an optional one, and by a dev tool too: optional here.
    const { devOptional, ...rest } = entry;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const resolved = rest.resolved ?? (rest.version && !rest.link ? `${REGISTRY}${name}/-/${name.split('/').pop()}-${rest.version}.tgz` : undefined);
    packages[path] = { ...rest, ...(resolved ? { resolved } : {}), ...(devOptional ? { optional: true } : {}) };
  }
  const shrinkwrap = { name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages };
  await writeFile(target, `${JSON.stringify(shrinkwrap, null, 2)}\n`);
}

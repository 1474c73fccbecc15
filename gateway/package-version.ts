/**
 * Pasarela's own package: its folder (the source tree's root, or the installed
 * package's, found from here whether this runs from the sources or from dist/) and
 * its version.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: { root: string | undefined; version: string } | undefined;

function find(): { root: string | undefined; version: string } {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pasarela' && typeof pkg.version === 'string') return (found = { root: dir, version: pkg.version });
    }
    const parent = dirname(dir);
    if (parent === dir) return (found = { root: undefined, version: '0.0.0' });
    dir = parent;
  }
}

/** The `version` of Pasarela's package.json. */
export function packageVersion(): string {
  return find().version;
}

/** The folder holding Pasarela's package.json (undefined if it cannot be found). */
export function packageRoot(): string | undefined {
  return find().root;
}

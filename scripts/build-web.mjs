#!/usr/bin/env node
/**
 * Builds the dashboard: bundles web/src/main.ts (with the JSTP client; its CBOR codec
 * as a chunk loaded on demand) and web/styles.css into web/dist/ with minification
 * and content-hashed names, writes
 * index.html pointing at them, the web app manifest and its icons (drawn by
 * scripts/icons.mjs), the service worker (sw.js) that keeps this build's files for
 * offline use, and a gzip copy of each text file for the static handler.
 * A gateway may be serving web/dist (or `npm pack` reading it) meanwhile: every file
 * is written to a temporary name in web/.dist-staging and renamed into place,
 * index.html after the files it names, and files of the previous build are removed last.
 *
 *   node scripts/build-web.mjs [--quiet]
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';
import { ICONS, icon } from './icons.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(web, 'dist');
// Beside web/dist, not in it: what is in web/dist is served and packed.
const staging = join(web, '.dist-staging');
const quiet = process.argv.includes('--quiet');

await mkdir(out, { recursive: true });
await mkdir(staging, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'web/src/main.ts', styles: 'web/styles.css' },
  outdir: out,
  entryNames: '[name]-[hash]',
  // The CBOR codec, imported on demand by the client, becomes a chunk of its own
  // that only a page opened with ?encoding=cbor loads.
  splitting: true,
  chunkNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  platform: 'browser',
  // Phones a few years old: Safari 15, Chrome 100.
  target: ['es2020', 'safari15', 'chrome100', 'firefox100'],
  metafile: true,
  write: false,
  logLevel: 'warning',
  legalComments: 'none',
});

/** Writes a file and its gzip copy, each under a temporary name first. */
async function put(name, bytes, compress) {
  const files = [[name, bytes]];
  if (compress) files.push([`${name}.gz`, gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION })]);
  for (const [file, content] of files) {
    const temporary = join(staging, `${file}.${process.pid}.tmp`);
    await writeFile(temporary, content);
    await rename(temporary, join(out, file));
  }
  return files.map(([, content]) => content.length);
}

/** The output file an entry point became, e.g. main -> main-3F2A9C1B.js. */
function outputOf(entry) {
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === entry) return basename(file);
  }
  throw new Error(`esbuild produced nothing for ${entry}`);
}
const script = outputOf('web/src/main.ts');
const styles = outputOf('web/styles.css');

const written = new Set();
const sizes = [];
for (const file of result.outputFiles) {
  const name = basename(file.path);
  const [plain, gz] = await put(name, file.contents, !name.endsWith('.map'));
  written.add(name).add(`${name}.gz`);
  if (name === script || name === styles || (name.endsWith('.js') && !name.startsWith('main-'))) sizes.push(`${name} ${(plain / 1024).toFixed(1)} KiB (gzip ${(gz / 1024).toFixed(1)} KiB)`);
}

// The installable app: its manifest and icons (PNG does not shrink with gzip).
await put('manifest.webmanifest', await readFile(join(web, 'manifest.webmanifest')), true);
written.add('manifest.webmanifest').add('manifest.webmanifest.gz');
for (const { name, size, maskable } of ICONS) {
  await put(name, icon(size, { maskable }), false);
  written.add(name);
}

const template = await readFile(join(web, 'index.html'), 'utf8');
const html = template.replace('src="main.js"', `src="${script}"`).replace('href="styles.css"', `href="${styles}"`);
if (!html.includes(script) || !html.includes(styles)) throw new Error('web/index.html must load main.js and styles.css');

// The service worker, with this build's shell: the page (cached as `./`) and the files
// it loads at once. A chunk loaded only on demand (the CBOR codec) is left to the network,
// so that a page that never asks for it never fetches it.
const loadedOnDemand = new Set(
  Object.values(result.metafile.outputs).flatMap((meta) => meta.imports.filter((entry) => entry.kind === 'dynamic-import').map((entry) => basename(entry.path))),
);
const shell = [
  ...result.outputFiles.map((file) => basename(file.path)).filter((name) => !name.endsWith('.map') && !loadedOnDemand.has(name)),
  'manifest.webmanifest',
  ...ICONS.map(({ name }) => name),
].sort();
const version = createHash('sha256').update(html).update(shell.join('\n')).digest('hex').slice(0, 12);
const worker = await build({
  absWorkingDir: root,
  entryPoints: ['web/src/service-worker.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'safari15', 'chrome100', 'firefox100'],
  define: { __PASARELA_SHELL__: JSON.stringify({ version, files: shell }) },
  write: false,
  logLevel: 'warning',
  legalComments: 'none',
});
// A fixed name: the browser checks it for a new version on every visit (served no-cache).
await put('sw.js', worker.outputFiles[0].contents, true);
written.add('sw.js').add('sw.js.gz');

await put('index.html', Buffer.from(html), true);
written.add('index.html').add('index.html.gz');

// The previous build's files, now that nothing new points at them.
for (const name of await readdir(out)) {
  // Dot-names may be temporary files of an older build script running alongside.
  if (!written.has(name) && !name.startsWith('.')) await rm(join(out, name), { recursive: true, force: true });
}

if (!quiet) {
  const where = relative(process.cwd(), out) || '.';
  process.stdout.write(`web: ${where}/ ${sizes.join(', ')}\n`);
}

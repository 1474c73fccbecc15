#!/usr/bin/env node
/**
 * Builds the dashboard: bundles web/src/main.ts (with the JSTP client) and
 * web/styles.css into web/dist/ with minification and content-hashed names, writes
 * index.html pointing at them, and a gzip copy of each file for the static handler.
 *
 *   node scripts/build-web.mjs [--quiet]
 */
import { build } from 'esbuild';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(web, 'dist');
const quiet = process.argv.includes('--quiet');

// Old hashed files would pile up otherwise.
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'web/src/main.ts', styles: 'web/styles.css' },
  outdir: out,
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  platform: 'browser',
  // Phones a few years old: Safari 15, Chrome 100.
  target: ['es2020', 'safari15', 'chrome100', 'firefox100'],
  // The engine's default logger is pino; the page gives it its own, so pino stays out.
  alias: { pino: './web/src/silent-pino.ts' },
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
});

/** The output file an entry point became, e.g. main -> main-3F2A9C1B.js. */
function outputOf(entry) {
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === entry) return basename(file);
  }
  throw new Error(`esbuild produced nothing for ${entry}`);
}
const script = outputOf('web/src/main.ts');
const styles = outputOf('web/styles.css');

const template = await readFile(join(web, 'index.html'), 'utf8');
const html = template.replace('src="main.js"', `src="${script}"`).replace('href="styles.css"', `href="${styles}"`);
if (!html.includes(script) || !html.includes(styles)) throw new Error('web/index.html must load main.js and styles.css');
await writeFile(join(out, 'index.html'), html);

const sizes = [];
for (const name of ['index.html', script, styles]) {
  const file = join(out, name);
  const bytes = await readFile(file);
  const gz = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
  await writeFile(`${file}.gz`, gz);
  sizes.push(`${name} ${(bytes.length / 1024).toFixed(1)} KiB (gzip ${(gz.length / 1024).toFixed(1)} KiB)`);
}
if (!quiet) {
  const where = relative(process.cwd(), out) || '.';
  process.stdout.write(`web: ${where}/ ${sizes.join(', ')}\n`);
}
// Checked after writing: a .gz must not be older than its source (the handler skips stale ones).
await stat(join(out, 'index.html.gz'));

/**
 * `node --import ./record-loads.mjs`: appends the URL of every module the loader
 * resolves to the file named by PASARELA_LOADS_FILE, one a line. The same file is
 * the hooks module: the main thread registers it, the hooks thread runs `resolve`.
 */
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) register(import.meta.url);

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  const file = process.env.PASARELA_LOADS_FILE;
  if (file) appendFileSync(file, `${result.url}\n`);
  return result;
}

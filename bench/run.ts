/**
 * `npm run bench -- NAME [args]` runs bench/NAME.ts in a child process of its own
 * (so one bench's heap, JIT state and singletons cannot skew another), with
 * `--expose-gc` for heap measurements. No NAME lists the benches.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');

function available(): string[] {
  return readdirSync(benchDir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && entry.name !== 'run.ts')
    .map((entry) => entry.name.slice(0, -'.ts'.length))
    .sort();
}

const [name, ...rest] = process.argv.slice(2);
const benches = available();

if (name === undefined || name === '--list') {
  process.stdout.write(`usage: npm run bench -- NAME\navailable benches:\n${benches.map((b) => `  ${b}\n`).join('')}`);
  process.exit(0);
}

if (!benches.includes(name)) {
  process.stderr.write(`unknown bench "${name}"; available: ${benches.join(', ') || '(none)'}\n`);
  process.exit(1);
}

const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(benchDir, `${name}.ts`), ...rest], {
  cwd: root,
  stdio: 'inherit',
});
// Let Ctrl-C reach the bench, and exit as it did.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exit(signal ? 128 + constants.signals[signal] : (code ?? 1));
});

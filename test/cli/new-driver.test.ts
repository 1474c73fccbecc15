/**
 * `pasarela new driver NAME` from the source tree: the files it writes, every
 * placeholder of the template filled in, the JavaScript valid, and usage errors (a bad
 * name, another kind, a folder in the way). The package's whole path, offline, with
 * its tests run: test/package/scaffold.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pasarelaRuns } from '../support/pasarela.js';

const { pasarela } = pasarelaRuns();
const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-new-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pasarela new driver', () => {
  it('writes a package with every name filled in and valid JavaScript', async () => {
    const target = join(dir, 'lamp');
    const made = pasarela('new', 'driver', 'pasarela-driver-garden-light', '--dir', target);
    expect((await made.exited).code).toBe(0);
    expect(made.stdout[0]).toMatch(/wrote .*lamp\/ \(driver "garden-light", package pasarela-driver-garden-light\):/);
    const files = ['package.json', 'index.js', 'profile.yaml', 'simulator.js', 'test/contract.test.js', 'README.md', '.gitignore'];
    for (const file of files) {
      const text = await readFile(join(target, file), 'utf8');
      expect(text, file).not.toMatch(/__[A-Z_]+__/);
    }
    const index = await readFile(join(target, 'index.js'), 'utf8');
    expect(index).toContain('export default function createGardenLightDriver');
    expect(index).toContain("const name = options.name ?? 'garden-light';");
    expect(await readFile(join(target, 'profile.yaml'), 'utf8')).toContain('title: Garden light');
    expect(JSON.parse(await readFile(join(target, 'package.json'), 'utf8'))).toMatchObject({ name: 'pasarela-driver-garden-light', devDependencies: { pasarela: expect.stringMatching(/^\^\d+\.\d+\.\d+/) } });
    for (const file of ['index.js', 'simulator.js', 'test/contract.test.js']) await run(process.execPath, ['--check', join(target, file)]);
  });

  it('refuses a name npm or JavaScript would not take, another kind, and a folder in the way', async () => {
    for (const args of [['new', 'driver', 'Desk_Lamp'], ['new', 'driver'], ['new', 'plugin', 'x'], ['new']]) {
      const refused = pasarela(...args);
      expect((await refused.exited).code, args.join(' ')).toBe(2);
      expect(refused.stderr.join('\n')).toMatch(/NAME|pasarela new driver NAME/);
    }
    const taken = join(dir, 'taken');
    await mkdir(taken);
    await writeFile(join(taken, 'keep.txt'), 'mine\n');
    const refused = pasarela('new', 'driver', 'lamp', '--dir', taken);
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr.join('\n')).toContain('already exists and is not empty');
    expect(await readFile(join(taken, 'keep.txt'), 'utf8')).toBe('mine\n');
  });
});

/**
 * A driver author's path, offline, from the packed package: Pasarela installed in a
 * gateway folder; `pasarela new driver desk-lamp` there; the scaffold's own tests
 * (`npm test`: the contract under node --test, from `pasarela/testing` as installed);
 * the driver packed and installed beside Pasarela as a published one would be; and a
 * real `pasarela` that loads it from a config (`drivers: [{ module: ... }]`) and
 * answers a GET on its device, a simulated one started from the package's simulator.
 * How long the scaffold's tests take is logged (`scaffold npm test: N ms`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import { installPasarela, npm, packPasarela, projectPackage } from '../support/packed.js';
import { parseJson, Run } from '../support/pasarela.js';

let dir: string;
let app: string;
let scaffold: string;
const children: ChildProcess[] = [];
const runs: Run[] = [];
let client: Client | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-scaffold-'));
  app = join(dir, 'gateway');
  await installPasarela(app, await packPasarela(), { name: 'my-gateway' });
  scaffold = join(app, 'pasarela-driver-desk-lamp');
}, 300_000);

afterAll(async () => {
  await client?.close();
  for (const run of runs) run.kill('SIGTERM');
  await Promise.all(runs.map((run) => run.exited));
  for (const child of children) child.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts `args` in `cwd` and resolves with the first stdout line matching `pattern`. */
function startUntil(command: string, args: string[], cwd: string, pattern: RegExp): Promise<RegExpExecArray> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern}:\n${output}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
}

describe('a driver of your own, from `pasarela new driver` to a gateway running it', () => {
  it('scaffolds a package: the driver, its profile, a simulator, the contract test and a README', async () => {
    const made = new Run(['new', 'driver', 'desk-lamp'], join(app, 'node_modules', '.bin', 'pasarela'), { cwd: app });
    runs.push(made);
    expect((await made.exited).code).toBe(0);
    for (const file of ['package.json', 'index.js', 'profile.yaml', 'simulator.js', 'test/contract.test.js', 'README.md', '.gitignore']) {
      expect(existsSync(join(scaffold, file)), file).toBe(true);
    }
    const pkg = JSON.parse(await readFile(join(scaffold, 'package.json'), 'utf8')) as Record<string, any>;
    expect(pkg).toMatchObject({ name: 'pasarela-driver-desk-lamp', type: 'module', scripts: { test: 'node --test' }, peerDependencies: { pasarela: `^${(await projectPackage()).version}` } });
    expect(made.stdout.join('\n')).toContain('npm test');
    // Writing over it is refused.
    const again = new Run(['new', 'driver', 'desk-lamp'], join(app, 'node_modules', '.bin', 'pasarela'), { cwd: app });
    runs.push(again);
    expect((await again.exited).code).toBe(1);
    expect(again.stderr.join('\n')).toContain('already exists and is not empty');
  });

  it("passes its own tests: the contract, under node --test, from the installed pasarela/testing", async () => {
    const started = Date.now();
    const { stdout } = await npm(['test'], scaffold);
    const elapsed = Date.now() - started;
    console.info(`scaffold npm test: ${elapsed} ms`);
    const counts = Object.fromEntries([...stdout.matchAll(/^# (tests|pass|fail|skipped) (\d+)$/gm)].map((match) => [match[1]!, Number(match[2])]));
    expect(counts, stdout).toEqual({ tests: 9, pass: 9, fail: 0, skipped: 0 });
  });

  it('installs beside Pasarela, and a pasarela loading it from a config answers a GET on its device', async () => {
    await npm(['pack', '--pack-destination', dir], scaffold);
    await npm(['install', '--offline', '--no-audit', '--no-fund', join(dir, 'pasarela-driver-desk-lamp-0.1.0.tgz')], app);
    expect(existsSync(join(app, 'node_modules', 'pasarela-driver-desk-lamp', 'index.js'))).toBe(true);

    // The device: the package's simulator, run as its README says.
    const listening = await startUntil(process.execPath, [join(app, 'node_modules', 'pasarela-driver-desk-lamp', 'simulator.js'), '--port', '0'], app, /listening on 127\.0\.0\.1:(\d+)/);
    const config = join(app, 'pasarela.yaml');
    await writeFile(config, ['drivers:', '  - { module: pasarela-driver-desk-lamp }', 'devices:', `  - { id: desk-lamp, driver: desk-lamp, host: 127.0.0.1, port: ${listening[1]} }`, ''].join('\n'));

    const gateway = new Run(['--config', config, '--tcp', '0', '--http', '0'], join(app, 'node_modules', '.bin', 'pasarela'), { cwd: app });
    runs.push(gateway);
    const ready = await gateway.log('ready');
    client = connect(`tcp://127.0.0.1:${ready.tcp as number}`, { reconnect: false });
    await client.ready();
    await expect.poll(async () => ((await client!.get(['devices', 'desk-lamp'])).body as { online: boolean }).online, { timeout: 10_000 }).toBe(true);
    expect((await client.get(['devices', 'desk-lamp', 'properties', 'temperature'])).body).toEqual(expect.any(Number));
    expect((await client.put(['devices', 'desk-lamp', 'properties', 'brightness'], 80)).body).toBe(80);
    expect((await client.post(['devices', 'desk-lamp', 'actions', 'blink'])).body).toEqual({ blinked: 3 });
    expect((await client.get(['drivers'])).body).toEqual([
      expect.objectContaining({ name: 'desk-lamp', version: '0.1.0', origin: 'package', module: 'pasarela-driver-desk-lamp', state: 'running', devices: 1 }),
    ]);
    expect(gateway.stdout.some((line) => parseJson(line)?.code === 'PASARELA_DRIVER_FAILED')).toBe(false);
  });
});

/**
 * `pasarela service install | uninstall`, run as the real command. The printed unit
 * goes through systemd's own parser, `systemd-analyze verify` (Debian's systemd
 * package, in .ci/run): that needs no running systemd, so it behaves the same in a
 * container whose PID 1 is not systemd. It exits 0 even for a directive it ignores
 * (a misspelt key, a bad value), only warning about it, so the test also requires it
 * to print nothing; the controls below show that it does print for such a unit.
 * `systemd-analyze security --offline=yes` then reads the hardening the way systemd
 * applies it. Installing and uninstalling write into a temporary --unit-dir, never
 * /etc/systemd/system, and so leave systemctl alone.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_PATH, DEFAULT_USER, renderUnit } from '../../gateway/service/systemd-unit.js';
import { pasarelaRuns, ROOT, type Run } from '../support/pasarela.js';

const { pasarela } = pasarelaRuns();
const exec = promisify(execFile);

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-service-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function finished(run: Run): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { code } = await run.exited;
  return { code, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n') };
}

async function printedUnit(...args: string[]): Promise<string> {
  const result = await finished(pasarela('service', 'install', '--print', ...args));
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return `${result.stdout}\n`;
}

/** systemd-analyze on a unit file named pasarela.service (verify wants the real name). */
async function analyze(unit: string, ...args: string[]): Promise<{ code: number; output: string }> {
  const unitDir = await mkdtemp(join(dir, 'analyze-'));
  const path = join(unitDir, 'pasarela.service');
  await writeFile(path, unit);
  try {
    const { stdout, stderr } = await exec('systemd-analyze', [...args, path]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (failed.code === 'ENOENT') throw new Error('systemd-analyze is not installed (apt-get install -y systemd)');
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

interface SecurityItem {
  set: boolean;
  name: string;
  description: string;
}

async function security(unit: string): Promise<SecurityItem[]> {
  const { code, output } = await analyze(unit, 'security', '--offline=yes', '--json=short', '--no-pager');
  expect(code).toBe(0);
  return JSON.parse(output) as SecurityItem[];
}

function item(items: readonly SecurityItem[], name: string): SecurityItem {
  const found = items.find((entry) => entry.name === name);
  if (!found) throw new Error(`systemd-analyze security reported no ${name}`);
  return found;
}

describe('pasarela service install --print', () => {
  it('prints a unit that systemd-analyze verify accepts without a word', async () => {
    const unit = await printedUnit();
    expect(await analyze(unit, 'verify')).toEqual({ code: 0, output: '' });
  });

  it('is checked by a verifier that does speak up: a misspelt key, a bad value and a missing program', async () => {
    const unit = await printedUnit();
    const misspelt = await analyze(unit.replace('NoNewPrivileges=yes', 'NoNewPriviledges=yes'), 'verify');
    expect(misspelt.output).toMatch(/Unknown key 'NoNewPriviledges'/);
    const badRestart = await analyze(unit.replace('Restart=always', 'Restart=sometimes'), 'verify');
    expect(badRestart.output).toMatch(/restart specifier/);
    const noProgram = await analyze(unit.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'), 'verify');
    expect(noProgram.code).not.toBe(0);
  });

  it('runs this Node.js and the built command with the config, as the user, restarting after a delay', async () => {
    const config = join(dir, 'conf dir', 'pi%1.yaml');
    const unit = await printedUnit('--user', 'gateway', '--config', config);
    const lines = unit.split('\n');
    const exec = lines.find((line) => line.startsWith('ExecStart='));
    // Quoted and escaped so systemd neither splits the path nor expands % and $.
    expect(exec).toBe(`ExecStart=${process.execPath} ${join(ROOT, 'dist', 'gateway', 'cli.js')} --config "${config.replace('%', '%%')}"`);
    expect(lines).toEqual(expect.arrayContaining(['User=gateway', 'Restart=always', 'RestartSec=5s', 'StateDirectory=pasarela', 'WorkingDirectory=/var/lib/pasarela', 'SupplementaryGroups=dialout']));
    expect(await analyze(unit, 'verify')).toEqual({ code: 0, output: '' });
  });

  it('is hardened as systemd reads it: no root, no new privileges, a read-only system, only CAP_NET_RAW and CAP_NET_ADMIN', async () => {
    const unit = await printedUnit();
    const items = await security(unit);
    for (const name of ['User=/DynamicUser=', 'NoNewPrivileges=', 'ProtectSystem=', 'PrivateTmp=', 'CapabilityBoundingSet=~CAP_SYS_ADMIN', 'CapabilityBoundingSet=~CAP_SYS_MODULE', 'RestrictSUIDSGID=']) {
      expect(item(items, name), name).toMatchObject({ set: true });
    }
    expect(item(items, 'ProtectSystem=').description).toMatch(/strict/);
    // What noble needs for its raw HCI socket is granted, and reported as such.
    expect(item(items, 'CapabilityBoundingSet=~CAP_NET_ADMIN').set).toBe(false);
    expect(item(items, 'AmbientCapabilities=').set).toBe(false);
    // systemd's overall exposure (0 best, 10 worst): under 5.
    expect((await analyze(unit, 'security', '--offline=yes', '--threshold=50', '--no-pager')).code).toBe(0);

    // The same reading of a unit that runs as root without the hardening.
    const loose = await security(unit.replace('User=pasarela', 'User=root').replace('NoNewPrivileges=yes\n', '').replace(/^CapabilityBoundingSet=.*\n/m, ''));
    expect(item(loose, 'User=/DynamicUser=').set).toBe(false);
    expect(item(loose, 'NoNewPrivileges=').set).toBe(false);
    expect(item(loose, 'CapabilityBoundingSet=~CAP_SYS_ADMIN').set).toBe(false);
  });

  it('is the unit the README shows for a global install on Raspberry Pi OS', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const shown = /```ini\n(# Written by `pasarela service install`[\s\S]*?)```/.exec(readme)?.[1];
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const cli = '/usr/lib/node_modules/pasarela/dist/gateway/cli.js';
    expect(shown).toBe(renderUnit({ node: '/usr/bin/node', cli, config: DEFAULT_CONFIG_PATH, user: DEFAULT_USER, version }));
    // And the command prints the same, but for where this Node.js and checkout are.
    const printed = await printedUnit();
    expect(printed.replace(`ExecStart=${process.execPath} ${join(ROOT, 'dist', 'gateway', 'cli.js')}`, `ExecStart=/usr/bin/node ${cli}`)).toBe(shown);
  });

  it('refuses a user name systemd would not take', async () => {
    const result = await finished(pasarela('service', 'install', '--print', '--user', 'Pi User'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--user: expected a user name/);
  });
});

describe('pasarela service install / uninstall (into a temporary unit folder)', () => {
  it('writes the printed unit, says what is next, replaces it when run again, and uninstall removes it', async () => {
    const unitDir = await mkdtemp(join(dir, 'units-'));
    const config = join(dir, 'good.yaml');
    await writeFile(config, 'listen: { host: 0.0.0.0 }\n');
    const printed = await printedUnit('--config', config);

    const first = await finished(pasarela('service', 'install', '--config', config, '--unit-dir', unitDir));
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const path = join(unitDir, 'pasarela.service');
    expect(first.stdout).toContain(`wrote ${path}`);
    expect(first.stdout).toMatch(/sudo systemctl daemon-reload\n {2}sudo systemctl enable --now pasarela/);
    expect(await readFile(path, 'utf8')).toBe(printed);
    expect((await stat(path)).mode & 0o777).toBe(0o644);

    const second = await finished(pasarela('service', 'install', '--config', config, '--unit-dir', unitDir));
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`replaced ${path}`);
    expect(second.stdout).toContain('sudo systemctl restart pasarela');

    const removed = await finished(pasarela('service', 'uninstall', '--unit-dir', unitDir));
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`removed ${path}`);
    expect(existsSync(path)).toBe(false);
    const again = await finished(pasarela('service', 'uninstall', '--unit-dir', unitDir));
    expect(again).toMatchObject({ code: 0, stdout: `no unit at ${path}: nothing to remove` });
  });

  it('reports a config the service could not start with, and writes nothing', async () => {
    const unitDir = await mkdtemp(join(dir, 'units-'));
    const config = join(dir, 'bad.yaml');
    await writeFile(config, 'listen:\n  tcp: lots\n');
    const result = await finished(pasarela('service', 'install', '--config', config, '--unit-dir', unitDir));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${config}:2: listen.tcp: expected number, got string "lots"`);
    expect(existsSync(join(unitDir, 'pasarela.service'))).toBe(false);
  });

  it('warns about a config that is not there yet, and installs', async () => {
    const unitDir = await mkdtemp(join(dir, 'units-'));
    const config = join(dir, 'later.yaml');
    const result = await finished(pasarela('service', 'install', '--config', config, '--unit-dir', unitDir));
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`pasarela service: no config at ${config} yet: write one before starting the service`);
    expect(await readFile(join(unitDir, 'pasarela.service'), 'utf8')).toContain(`--config ${config}`);
  });

  it('leaves a pasarela.service it did not write alone, both ways', async () => {
    const unitDir = await mkdtemp(join(dir, 'units-'));
    const path = join(unitDir, 'pasarela.service');
    const theirs = '[Service]\nExecStart=/usr/local/bin/their-gateway\n';
    await writeFile(path, theirs);
    const install = await finished(pasarela('service', 'install', '--config', join(dir, 'later.yaml'), '--unit-dir', unitDir));
    expect(install.code).toBe(1);
    expect(install.stderr).toContain(`${path} exists and was not written by pasarela service install`);
    const uninstall = await finished(pasarela('service', 'uninstall', '--unit-dir', unitDir));
    expect(uninstall.code).toBe(1);
    expect(await readFile(path, 'utf8')).toBe(theirs);
  });

  it('fails with the reason when the unit folder cannot be written', async () => {
    const missing = join(dir, 'no-such-folder');
    const result = await finished(pasarela('service', 'install', '--config', join(dir, 'later.yaml'), '--unit-dir', missing));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`cannot write the unit in ${missing}: ENOENT`));
  });

  it('answers an unknown action with usage', async () => {
    const result = await finished(pasarela('service', 'restart'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('service: unknown action "restart" (install or uninstall)');
  });
});

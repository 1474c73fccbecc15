/**
 * `pasarela service install | uninstall`: the systemd unit that runs this gateway on
 * a Raspberry Pi (gateway/service/). `install --print` prints the unit instead of
 * writing it; `--unit-dir` writes it elsewhere than /etc/systemd/system (and then
 * systemctl is left alone).
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { packageVersion } from '../gateway.js';
import { DEFAULT_CONFIG_PATH, DEFAULT_UNIT_DIR, DEFAULT_USER, isUserName, renderUnit, STATE_DIR, UNIT_NAME } from '../service/systemd-unit.js';
import { managesSystemd, removeUnit, systemctl, unitOwner, unitPath, userExists, writeUnit } from '../service/unit-file.js';
import { err, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, noExtra, out, UsageError } from './common.js';

/** The built command the service runs: this one, or the build of this checkout when run from source. */
function builtCli(): string {
  const script = realpathSync(process.argv[1] ?? '');
  // From the TypeScript source (tests, development): <checkout>/gateway/cli.ts -> <checkout>/dist/gateway/cli.js.
  return script.endsWith('.ts') ? join(dirname(dirname(script)), 'dist', 'gateway', 'cli.js') : script;
}

function failure(what: string, error: unknown): number {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = code === 'EACCES' || code === 'EPERM' ? ': run it as root (sudo)' : '';
  err(`pasarela service: ${what}: ${error instanceof Error ? error.message : String(error)}${hint}`);
  return EXIT_FAILURE;
}

async function install(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      user: { type: 'string', default: DEFAULT_USER },
      config: { type: 'string', default: DEFAULT_CONFIG_PATH },
      'unit-dir': { type: 'string', default: DEFAULT_UNIT_DIR },
      print: { type: 'boolean' },
    },
  });
  noExtra(positionals);
  if (!isUserName(values.user)) throw new UsageError(`--user: expected a user name (lower-case letters, digits, - and _), got "${values.user}"`);
  const config = resolve(values.config);
  const unit = renderUnit({ node: process.execPath, cli: builtCli(), config, user: values.user, version: packageVersion() });
  if (values.print) {
    out(unit.trimEnd());
    return EXIT_OK;
  }

  // A config that would stop the service at once (exit 2) is better reported now.
  if (existsSync(config)) {
    try {
      await loadConfig(config);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      err(`pasarela service: ${error.message}`);
      return EXIT_USAGE;
    }
  } else {
    err(`pasarela service: no config at ${config} yet: write one before starting the service`);
  }

  const unitDir = resolve(values['unit-dir']);
  let written: { path: string; replaced: boolean };
  try {
    if ((await unitOwner(unitDir)) === 'foreign') {
      err(`pasarela service: ${unitPath(unitDir)} exists and was not written by pasarela service install: left as it is`);
      return EXIT_FAILURE;
    }
    written = await writeUnit(unitDir, `${unit.trimEnd()}\n`);
  } catch (error) {
    return failure(`cannot write the unit in ${unitDir}`, error);
  }
  out(`${written.replaced ? 'replaced' : 'wrote'} ${written.path}`);

  const steps: string[] = [];
  if (!(await userExists(values.user))) {
    steps.push(`sudo useradd --system --home-dir ${STATE_DIR} --no-create-home --shell /usr/sbin/nologin ${values.user}`);
  }
  if (managesSystemd(unitDir)) {
    try {
      await systemctl('daemon-reload');
    } catch (error) {
      return failure('systemctl daemon-reload failed', error);
    }
  } else {
    steps.push('sudo systemctl daemon-reload');
  }
  steps.push(`sudo systemctl ${written.replaced ? 'restart' : 'enable --now'} pasarela`, 'journalctl -u pasarela -f');
  out(`next:\n${steps.map((step) => `  ${step}`).join('\n')}`);
  return EXIT_OK;
}

async function uninstall(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'unit-dir': { type: 'string', default: DEFAULT_UNIT_DIR } },
  });
  noExtra(positionals);
  const unitDir = resolve(values['unit-dir']);
  const path = unitPath(unitDir);
  let owner: Awaited<ReturnType<typeof unitOwner>>;
  try {
    owner = await unitOwner(unitDir);
  } catch (error) {
    return failure(`cannot read ${path}`, error);
  }
  if (owner === 'absent') {
    out(`no unit at ${path}: nothing to remove`);
    return EXIT_OK;
  }
  if (owner === 'foreign') {
    err(`pasarela service: ${path} was not written by pasarela service install: left as it is`);
    return EXIT_FAILURE;
  }
  const systemd = managesSystemd(unitDir);
  if (systemd) {
    // Stopped and disabled first: a unit file removed under a running service leaves it running.
    await systemctl('disable', '--now', UNIT_NAME).catch((error: unknown) => err(`pasarela service: systemctl disable --now ${UNIT_NAME} failed: ${String(error)}`));
  }
  try {
    await removeUnit(unitDir);
  } catch (error) {
    return failure(`cannot remove ${path}`, error);
  }
  if (systemd) await systemctl('daemon-reload').catch((error: unknown) => err(`pasarela service: systemctl daemon-reload failed: ${String(error)}`));
  out(`removed ${path}; the config and ${STATE_DIR} are left as they are`);
  if (!systemd) out('next:\n  sudo systemctl disable --now pasarela (if it ran)\n  sudo systemctl daemon-reload');
  return EXIT_OK;
}

export async function service(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'install') return install(rest);
  if (action === 'uninstall') return uninstall(rest);
  throw new UsageError(action === undefined ? 'service: expected install or uninstall' : `service: unknown action "${action}" (install or uninstall)`);
}

#!/usr/bin/env node
/**
 * The `pasarela` command: runs a gateway (cli/serve.ts), talks to one (cli/call.ts,
 * cli/watch.ts), or writes a driver package (cli/new.ts). The command (this file and cli/) is the only code
 * allowed to write to stdout/stderr directly.
 */
import { call } from './cli/call.js';
import { err, EXIT_OK, EXIT_USAGE, flushed, out, UsageError } from './cli/common.js';
import { newCommand } from './cli/new.js';
import { serve } from './cli/serve.js';
import { service } from './cli/service.js';
import { watch } from './cli/watch.js';
import { LOG_LEVELS } from './config.js';
import { packageVersion } from './gateway.js';

const USAGE = `Usage:
  pasarela [--config FILE] [--demo] [--host H] [--tcp N] [--http N] [--forwarding] [--log-level L]
  pasarela call METHOD a/b/c [--body JSON] [--emit] [--url tcp://127.0.0.1:33333]
  pasarela watch METHOD a/*/c [--url tcp://127.0.0.1:33333]
  pasarela service install [--user pasarela] [--config /etc/pasarela/pasarela.yaml] [--print]
  pasarela service uninstall
  pasarela new driver NAME [--dir DIR]

Run a gateway:
  --config FILE     YAML (.yaml, .yml) or JSON (.json) config; flags override it
  --demo            the gateway with the simulated devices
  --host H          address to listen on (default 127.0.0.1)
  --tcp N           JSTP over TCP port (default 33333; 0 picks a free port)
  --http N          HTTP + JSTP over WebSocket port (default 8080; 0 picks a free port)
  --forwarding      enable forwarding (dispatches with a host header)
  --log-level L     ${LOG_LEVELS.join(', ')} (default info)

Talk to a gateway (--url: tcp://, ws:// or wss://):
  call METHOD PATH  send one dispatch, print every answer: status, status text, body
                    (exit 0 if a 2xx came, 1 otherwise); with --emit, send it
                    without a transaction (nobody answers) and exit 0 once sent
  watch METHOD PAT  bind PAT (elements *, ..., :name) and print each matching dispatch
                    until Ctrl-C; METHOD may be *

Run it as a systemd service (as root; --unit-dir DIR writes elsewhere than
/etc/systemd/system and leaves systemctl alone):
  service install   write /etc/systemd/system/pasarela.service, running this
                    command with --config FILE as --user (default pasarela);
                    --print prints the unit instead
  service uninstall remove that unit (stopped and disabled first)

Make a driver of your own:
  new driver NAME   write a driver package (default folder pasarela-driver-NAME):
                    the driver, its profile, a simulator, the contract test, a README

  -h, --help        this help
  -v, --version     the version
`;

async function main(argv: string[]): Promise<number | undefined> {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help' || first === 'help') {
    out(USAGE.trimEnd());
    return EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    out(packageVersion());
    return EXIT_OK;
  }
  if (first === 'call') return call(rest);
  if (first === 'watch') return watch(rest);
  if (first === 'service') return service(rest);
  if (first === 'new') return newCommand(rest);
  return serve(argv);
}

async function run(): Promise<void> {
  let code: number | undefined;
  try {
    code = await main(process.argv.slice(2));
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw error;
    err(`pasarela: ${(error as Error).message}`);
    err(`Try "pasarela --help".`);
    code = EXIT_USAGE;
  }
  if (code === undefined) return; // a running gateway: it exits on a signal
  await flushed();
  process.exit(code);
}

await run();

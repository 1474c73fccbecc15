#!/usr/bin/env node
/**
 * The `pasarela` command: runs a gateway (cli/serve.ts), talks to one (cli/call.ts,
 * cli/watch.ts), makes identities, grants and certificates (cli/identity.ts, grant.ts,
 * delegate.ts, pair.ts, cert.ts), installs the service (cli/service.ts) or writes a
 * driver package (cli/new.ts). The command (this file and cli/) is the only code
 * allowed to write to stdout/stderr directly.
 */
import { call } from './cli/call.js';
import { cert } from './cli/cert.js';
import { err, EXIT_OK, EXIT_USAGE, flushed, out, UsageError } from './cli/common.js';
import { delegate } from './cli/delegate.js';
import { grant } from './cli/grant.js';
import { identity } from './cli/identity.js';
import { newCommand } from './cli/new.js';
import { pair } from './cli/pair.js';
import { serve } from './cli/serve.js';
import { service } from './cli/service.js';
import { watch } from './cli/watch.js';
import { LOG_LEVELS } from './config.js';
import { packageVersion } from './gateway.js';

const USAGE = `Usage:
  pasarela [--config FILE] [--demo] [--host H] [--tcp N] [--http N] [--forwarding] [--log-level L]
  pasarela call METHOD a/b/c [--body JSON] [--emit] [--url tcp://127.0.0.1:33333] [--via URL]... [SECURITY] [SEALING]
  pasarela watch METHOD a/*/c [--url tcp://127.0.0.1:33333] [SECURITY]
  pasarela identity new --out FILE | identity show FILE
  pasarela grant ID --can PRESET [--devices a,b] [--expires 7d] --identity OWNER_FILE --out GRANT_FILE
  pasarela delegate GRANT_FILE --to ID --can PRESET [--devices a,b] [--expires 7d] --identity HOLDER_FILE --out FILE
  pasarela pair CODE --can PRESET [--devices a,b] [--expires 7d] --identity OWNER_FILE [--url URL]
  pasarela cert new [--cert pasarela.crt] [--key pasarela-tls.key] [--name HOST]... [--days 825]
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

Talk to a gateway (--url: tcp://, tls://, ws:// or wss://):
  call METHOD PATH  send one dispatch, print every answer: status, status text, body
                    (exit 0 if a 2xx came, 1 otherwise); with --emit, send it
                    without a transaction (nobody answers) and exit 0 once sent
  watch METHOD PAT  bind PAT (elements *, ..., :name) and print each matching dispatch
                    until Ctrl-C; METHOD may be *

SECURITY (docs/spec/security.md):
  --identity FILE   sign with this identity (made by \`identity new\`, mode 0600)
  --grant FILE      present this grant (made by \`grant\` or \`delegate\`)
  --signed-by ID    refuse answers and dispatches not signed by this identity
  --ca FILE         tls:// and wss://: trust this CA or self-signed certificate
  --pin sha256/...  tls:// and wss://: trust the server whose key has this pin

SEALING (call; only the last engine can read it; watch --identity opens what is sealed to it):
  --via URL         send it through this engine first (tcp://host:port...; repeatable)
  --to ID|auto      seal to the last engine: its id, or auto to pin it on first use
  --known-engines F where pins are kept (default ~/.config/pasarela/known-engines)
  --seal-resource   with --emit: the resource sealed too (one known recipient)

Identities and grants:
  identity new      make an identity; prints its id (pas1..., bech32m of its key)
  identity show     print its id, kid and public keys
  grant ID          an owner grants a preset: admin, operate, read, serve
  delegate FILE     the holder of a grant passes on a narrower one
  pair CODE         grant the dashboard page that shows CODE
  cert new          a self-signed certificate for listen.tls; prints its pin

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
  if (first === 'identity') return identity(rest);
  if (first === 'grant') return grant(rest);
  if (first === 'delegate') return delegate(rest);
  if (first === 'pair') return pair(rest);
  if (first === 'cert') return cert(rest);
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

/**
 * `pasarela cert new [--cert FILE] [--key FILE] [--name H]... [--days N]`: a
 * self-signed certificate for `listen.tls`, valid for this machine's names and
 * addresses (and any --name), at most 825 days. Prints the pin of its key
 * (`sha256/...`, for `--pin`) as the one line of standard output.
 */
import { constants, openSync, closeSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machineNames, MAX_CERT_DAYS, selfSignedCertificate } from '../security/x509.js';
import { err, EXIT_OK, noExtra, out, UsageError } from './common.js';

function writeNew(path: string, content: string, mode: number, flag: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag}: ${code === 'EEXIST' ? `${path} exists (remove it first, if you mean it)` : `cannot write ${path} (${code ?? String(error)})`}`);
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

export async function cert(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== 'new') throw new UsageError(action === undefined ? 'cert: missing "new"' : `cert: unknown action "${action}" (new)`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { cert: { type: 'string' }, key: { type: 'string' }, name: { type: 'string', multiple: true }, days: { type: 'string' } },
  });
  noExtra(positionals);
  const days = values.days === undefined ? MAX_CERT_DAYS : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > MAX_CERT_DAYS) throw new UsageError(`--days: 1 to ${MAX_CERT_DAYS} (phones refuse longer), got "${values.days}"`);
  const names = [...new Set([...machineNames(), ...(values.name ?? [])])];
  const made = selfSignedCertificate({ names, days });
  const certPath = values.cert ?? 'pasarela.crt';
  const keyPath = values.key ?? 'pasarela-tls.key';
  writeNew(keyPath, made.keyPem, 0o600, '--key');
  writeNew(certPath, made.certPem, 0o644, '--cert');
  out(made.pin);
  err(`wrote ${certPath} and ${keyPath} (mode 0600), valid ${made.notBefore.toISOString()} to ${made.notAfter.toISOString()}, for: ${names.join(', ')}`);
  err(`config: listen: { tls: { cert: ${certPath}, key: ${keyPath} } }; clients: --ca ${certPath} or --pin ${made.pin}`);
  return EXIT_OK;
}

/**
 * `pasarela identity new --out FILE`: makes an identity (Ed25519 to sign, X25519
 * beside it) in a new file, mode 0600, and prints its id as the one line of output.
 * `pasarela identity show FILE`: the id, the kid and the public keys.
 */
import { parseArgs } from 'node:util';
import { base64url } from '../security/bytes.js';
import { writeIdentityFile } from '../security/files.js';
import { createIdentity } from '../security/identity.js';
import { nodeSuite } from '../security/node-suite.js';
import { EXIT_OK, noExtra, out, UsageError } from './common.js';
import { loadIdentity } from './credentials.js';

export async function identity(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'new') {
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { out: { type: 'string', short: 'o' } } });
    noExtra(positionals);
    if (values.out === undefined) throw new UsageError('identity new: missing --out FILE');
    const made = createIdentity(nodeSuite);
    try {
      writeIdentityFile(values.out, made);
    } catch (error) {
      throw new UsageError(`--out: ${(error as Error).message}`);
    }
    out(made.id);
    return EXIT_OK;
  }
  if (action === 'show') {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
    const [file, ...extra] = positionals;
    noExtra(extra);
    const shown = loadIdentity(file, 'FILE');
    out(shown.id);
    out(`kid      ${shown.kidHex}`);
    out(`ed25519  ${base64url(shown.signingKey)}`);
    out(`x25519   ${base64url(shown.agreementKey)}`);
    return EXIT_OK;
  }
  throw new UsageError(action === undefined ? 'identity: missing "new" or "show"' : `identity: unknown action "${action}" (new or show)`);
}

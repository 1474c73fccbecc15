/**
 * `pasarela grant KID --can read|operate|admin|serve [--devices a,b] [--expires 7d]
 * --identity OWNER_FILE --out GRANT_FILE`: an owner issues a grant to an identity.
 */
import { parseArgs } from 'node:util';
import { writeGrantFile } from '../security/files.js';
import { encodeChain, issueGrant } from '../security/grant.js';
import { nodeSuite } from '../security/node-suite.js';
import { EXIT_OK, noExtra, out, UsageError } from './common.js';
import { describeCapabilities, loadIdentity, parseCapabilities, parseExpires, parseId } from './credentials.js';

export const GRANT_FLAGS = {
  can: { type: 'string' },
  devices: { type: 'string' },
  expires: { type: 'string' },
  identity: { type: 'string' },
  out: { type: 'string', short: 'o' },
} as const;

export async function grant(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: GRANT_FLAGS });
  const [audienceArg, ...extra] = positionals;
  noExtra(extra);
  const audience = parseId('KID', audienceArg);
  const { preset, devices, capabilities } = parseCapabilities(values.can, values.devices);
  const expires = parseExpires(values.expires);
  if (values.out === undefined) throw new UsageError('missing --out GRANT_FILE');
  const issuer = loadIdentity(values.identity);
  const issued = issueGrant(nodeSuite, issuer, { audience, capabilities, ...(expires === undefined ? {} : { expires }) });
  writeGrantFile(values.out, encodeChain([issued]));
  out(`${preset}${devices.length > 0 ? ` on ${devices.join(', ')}` : ''} for ${audience}, ${expires === undefined ? 'no expiry' : `until ${new Date(expires * 1000).toISOString()}`}, issued by ${issuer.id}:`);
  for (const line of describeCapabilities(capabilities)) out(line);
  return EXIT_OK;
}

/**
 * `pasarela delegate GRANT_FILE --to KID --can ... [--devices] [--expires]
 * --identity HOLDER_FILE --out FILE`: the holder of a grant passes on a narrower
 * one. It can never widen: what is not within the grant is refused here, and a
 * gateway would refuse it too.
 */
import { parseArgs } from 'node:util';
import { CapabilitySet, capabilityText } from '../security/capabilities.js';
import { writeGrantFile } from '../security/files.js';
import { decodeChain, encodeChain, issueGrant } from '../security/grant.js';
import { nodeSuite } from '../security/node-suite.js';
import { EXIT_OK, noExtra, out, UsageError } from './common.js';
import { describeCapabilities, loadGrant, loadIdentity, parseCapabilities, parseExpires, parseId } from './credentials.js';

export async function delegate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { to: { type: 'string' }, can: { type: 'string' }, devices: { type: 'string' }, expires: { type: 'string' }, identity: { type: 'string' }, out: { type: 'string', short: 'o' } },
  });
  const [file, ...extra] = positionals;
  noExtra(extra);
  if (file === undefined) throw new UsageError('missing GRANT_FILE');
  const audience = parseId('--to', values.to);
  const { preset, devices, capabilities } = parseCapabilities(values.can, values.devices);
  if (values.out === undefined) throw new UsageError('missing --out FILE');
  const holder = loadIdentity(values.identity);
  const { grants } = decodeChain(loadGrant(file));
  const parent = grants[grants.length - 1]!;
  if (parent.claims.audience !== holder.id) throw new UsageError(`--identity: ${file} was given to ${parent.claims.audience}, not to ${holder.id}`);
  const widened = new CapabilitySet(parent.claims.capabilities).firstUncovered(new CapabilitySet(capabilities));
  if (widened) throw new UsageError(`--can ${preset}: "${capabilityText(widened)}" is not within ${file}: a delegation can only narrow`);
  const expires = parseExpires(values.expires) ?? parent.claims.expires;
  if (parent.claims.expires !== undefined && (expires === undefined || expires > parent.claims.expires)) {
    throw new UsageError(`--expires: ${file} expires at ${new Date(parent.claims.expires * 1000).toISOString()}; a delegation cannot outlive it`);
  }
  const issued = issueGrant(nodeSuite, holder, { audience, capabilities, parent, notBefore: Math.max(parent.claims.notBefore, Math.floor(Date.now() / 1000)), ...(expires === undefined ? {} : { expires }) });
  writeGrantFile(values.out, encodeChain([...grants, issued]));
  out(`${preset}${devices.length > 0 ? ` on ${devices.join(', ')}` : ''} for ${audience}, ${expires === undefined ? 'no expiry' : `until ${new Date(expires * 1000).toISOString()}`}, delegated by ${holder.id} from ${file}:`);
  for (const line of describeCapabilities(capabilities)) out(line);
  return EXIT_OK;
}

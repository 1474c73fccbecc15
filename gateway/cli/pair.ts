/**
 * `pasarela pair CODE --can operate --identity OWNER_FILE [--grant FILE]
 * [--devices a,b] [--expires 7d] [--url ...]`: grants the page showing CODE. Reads
 * the key behind the code from the gateway, issues the grant to it (as an owner, or
 * delegated from --grant) and hands it in; the page picks it up. Prints the page's id.
 */
import { parseArgs } from 'node:util';
import { CapabilitySet, capabilityText } from '../security/capabilities.js';
import { decodeChain, encodeChain, issueGrant } from '../security/grant.js';
import { nodeSuite } from '../security/node-suite.js';
import { statusText } from '../jstp/errors.js';
import { DEFAULT_URL, err, EXIT_FAILURE, EXIT_OK, noExtra, out, TRUST_FLAGS, UsageError } from './common.js';
import { connectForCommand, loadGrant, loadIdentity, parseCapabilities, parseExpires, SIGNING_FLAGS } from './credentials.js';

export async function pair(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { can: { type: 'string' }, devices: { type: 'string' }, expires: { type: 'string' }, url: { type: 'string' }, ...SIGNING_FLAGS, ...TRUST_FLAGS },
  });
  const [code, ...extra] = positionals;
  noExtra(extra);
  if (code === undefined) throw new UsageError('missing CODE (the page shows it)');
  const { preset, capabilities } = parseCapabilities(values.can, values.devices);
  const expires = parseExpires(values.expires);
  const issuer = loadIdentity(values.identity);
  const parent = values.grant === undefined ? undefined : decodeChain(loadGrant(values.grant)).grants;
  if (parent) {
    const leaf = parent[parent.length - 1]!;
    const widened = new CapabilitySet(leaf.claims.capabilities).firstUncovered(new CapabilitySet(capabilities));
    if (widened) throw new UsageError(`--can ${preset}: "${capabilityText(widened)}" is not within ${values.grant}`);
  }
  const url = values.url ?? DEFAULT_URL;
  const client = await connectForCommand('pair', url, values);
  if (typeof client === 'number') return client;
  try {
    const fail = (what: string, answer: { status: number; body?: unknown }): number => {
      err(`pasarela pair: ${what}: ${answer.status} ${statusText[answer.status] ?? ''}${answer.body === undefined ? '' : ` ${JSON.stringify(answer.body)}`}`);
      return EXIT_FAILURE;
    };
    const looked = (await client.get(['gateway', 'pairing', code]).all())[0];
    if (!looked || looked.status !== 200) return fail(`no page waits under ${code}`, looked ?? { status: 504 });
    const key = (looked.body as { key?: unknown }).key;
    if (typeof key !== 'string') return fail('the gateway answered without a key', looked);
    const leaf = parent?.[parent.length - 1];
    const issued = issueGrant(nodeSuite, issuer, {
      audience: key,
      capabilities,
      ...(leaf ? { parent: leaf, notBefore: Math.max(leaf.claims.notBefore, Math.floor(Date.now() / 1000)) } : {}),
      ...(expires !== undefined ? { expires } : leaf?.claims.expires !== undefined ? { expires: leaf.claims.expires } : {}),
    });
    const chain = encodeChain([...(parent ?? []), issued]);
    const handed = (await client.put(['gateway', 'pairing', code], { grant: chain }).all())[0];
    if (!handed || handed.status !== 200) return fail('the gateway did not take the grant', handed ?? { status: 504 });
    out(key);
    err(`paired: ${preset} for ${key}; the page shows the same id`);
    return EXIT_OK;
  } finally {
    await client.close();
  }
}

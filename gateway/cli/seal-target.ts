/**
 * `--to ID|auto`, `--via HOP`, `--known-engines FILE` and `--seal-resource` of
 * `pasarela call`: the engine to seal to, found through the same hops the dispatch
 * takes, its identity document verified and checked against the known-engines file.
 */
import type { Hop } from '../jstp/dispatch.js';
import { ErrorCode, PasarelaError } from '../jstp/errors.js';
import { verifyIdentityDocument, IdentityDocumentError, type KnownIdentity } from '../security/identity-document.js';
import { defaultKnownEnginesPath, KnownEngines } from '../security/known-engines.js';
import { fromBase64url } from '../security/bytes.js';
import { publicIdentityFromId } from '../security/identity.js';
import { nodeSuite } from '../security/node-suite.js';
import { err, UsageError } from './common.js';
import { parseId, type CommandClient } from './credentials.js';

export const SEALING_FLAGS = {
  to: { type: 'string' },
  via: { type: 'string', multiple: true },
  'known-engines': { type: 'string' },
  'seal-resource': { type: 'boolean' },
} as const;

const LABELS = new Set(['tcp', 'tls', 'ws', 'wss']);

/** `--via tcp://host:port` (repeatable): the `host` hops, in order. */
export function parseVia(values: readonly string[] | undefined): Hop[] {
  return (values ?? []).map((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new UsageError(`--via: expected a URL such as tcp://192.168.1.20:33333, got "${value}"`);
    }
    const label = url.protocol.slice(0, -1);
    if (!LABELS.has(label) || !url.hostname || !url.port) throw new UsageError(`--via: expected tcp://, tls://, ws:// or wss:// with a host and a port, got "${value}"`);
    return [url.hostname.replace(/^\[(.*)\]$/, '$1'), Number(url.port), label] satisfies Hop;
  });
}

/** Where the sealed dispatch ends: the last hop, or the gateway of --url; the known-engines file's key for it. */
export function targetAddress(url: string, hops: readonly Hop[]): string {
  const last = hops[hops.length - 1];
  if (last) return `${last[2]}://${last[0].includes(':') ? `[${last[0]}]` : last[0]}:${last[1]}`;
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}`;
}

/** Why the target cannot be sealed to (exit 1). */
export class SealTargetError extends Error {}

/**
 * Finds, checks and pins the identity to seal to, and tells the client's stages:
 * requests are sealed to it, and answers must be signed by it.
 */
export async function sealToTarget(connected: CommandClient, to: string, address: string, hops: readonly Hop[], knownPath: string | undefined): Promise<KnownIdentity> {
  const named = to === 'auto' ? undefined : parseId('--to', to);
  const known = new KnownEngines(knownPath ?? defaultKnownEnginesPath());
  let target: KnownIdentity | undefined;
  const pinned = known.lookup(address);
  if (named !== undefined && pinned?.id === named) {
    const agreementKey = fromBase64url(pinned.agreementKey);
    if (agreementKey?.length === 32) target = { ...publicIdentityFromId(nodeSuite, named), agreementKey, issuedAt: 0, document: '' };
  }
  if (!target) {
    const presented = await fetchIdentity(connected, address, hops);
    if (named !== undefined && presented.id !== named) throw new SealTargetError(`the engine at ${address} is ${presented.id}, not ${named} as --to says: nothing was sent`);
    try {
      const outcome = known.check(address, presented, named);
      if (outcome === 'pinned') err(`pasarela call: pinned ${presented.id} for ${address} in ${known.path}`);
      else if (outcome === 'replaced') err(`pasarela call: ${address} is now pinned to ${presented.id} in ${known.path}, as --to says`);
      else if (outcome === 'updated') err(`pasarela call: ${presented.id} at ${address} signed a new X25519 key; updated in ${known.path}`);
    } catch (error) {
      if (error instanceof PasarelaError && error.code === ErrorCode.KnownEngine) throw new SealTargetError(error.message);
      throw error;
    }
    target = presented;
  }
  connected.sealing!.setRecipient(target);
  connected.security?.trust(target);
  return target;
}

async function fetchIdentity(connected: CommandClient, address: string, hops: readonly Hop[]): Promise<KnownIdentity> {
  const answers = await connected.client.get(['gateway', 'identity'], undefined, hops.length > 0 ? { host: [...hops] } : {}).all();
  const answer = answers.find((a) => a.status === 200);
  const document = (answer?.body as { document?: unknown } | undefined)?.document;
  if (typeof document !== 'string') {
    const got = answers.map((a) => `${a.status}${a.body === undefined ? '' : ` ${JSON.stringify(a.body)}`}`).join(', ') || 'no answer';
    throw new SealTargetError(`the engine at ${address} has no identity document to seal to (GET gateway/identity: ${got})`);
  }
  try {
    return verifyIdentityDocument(nodeSuite, document);
  } catch (error) {
    throw new SealTargetError(`the engine at ${address} sent an identity document that does not verify: ${error instanceof IdentityDocumentError ? error.message : String(error)}`);
  }
}

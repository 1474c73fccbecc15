/**
 * The real `pasarela` command for the security tests: identities and grants made by
 * `pasarela identity new` and `pasarela grant`, a gateway config with a `security`
 * section, and library clients that sign with those files.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Client, type ClientOptions } from '../../gateway/client.js';
import { ClientSecurityStage } from '../../gateway/security/client-stage.js';
import { fileSequenceStore, readGrantFile, readIdentityFile } from '../../gateway/security/files.js';
import { publicIdentityFromId } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { SequenceCounter } from '../../gateway/security/sequence.js';
import { DispatchSigner } from '../../gateway/security/signer.js';
import type { Run } from '../support/pasarela.js';

export interface Runs {
  pasarela(...args: string[]): Run;
}

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pasarela-security-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `pasarela identity new --out DIR/NAME.key`: its id, from the one line it prints. */
export async function newIdentity(runs: Runs, dir: string, name: string): Promise<{ id: string; file: string }> {
  const file = join(dir, `${name}.key`);
  const run = runs.pasarela('identity', 'new', '--out', file);
  const exit = await run.exited;
  if (exit.code !== 0) throw new Error(`identity new failed: ${run.stderr.join('\n')}`);
  return { id: run.stdout[0]!, file };
}

/** `pasarela grant ID --can ... --identity OWNER --out DIR/NAME.grant`. */
export async function newGrant(runs: Runs, dir: string, name: string, audience: string, owner: string, ...flags: string[]): Promise<string> {
  const file = join(dir, `${name}.grant`);
  const run = runs.pasarela('grant', audience, ...flags, '--identity', owner, '--out', file);
  const exit = await run.exited;
  if (exit.code !== 0) throw new Error(`grant failed: ${run.stderr.join('\n')}`);
  return file;
}

export async function securedConfig(dir: string, owners: string[], extra = '', anonymous = 'none', name = 'gateway'): Promise<string> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, `listen: { host: 127.0.0.1 }\nsecurity:\n  identity: ./${name}.key\n  owners: [${owners.join(', ')}]\n  anonymous: ${anonymous}\n${extra}`);
  return path;
}

/** A library client that signs with an identity file (and presents a grant file). */
export function signedClient(url: string, files: { identity?: string; grant?: string; signedBy?: string }, options: ClientOptions = {}): Client {
  const client = connect(url, { reconnect: false, ...options });
  const identity = files.identity ? readIdentityFile(files.identity, nodeSuite) : undefined;
  const signer = identity && files.identity ? new DispatchSigner(identity, new SequenceCounter(fileSequenceStore(files.identity))) : undefined;
  client.use(
    new ClientSecurityStage({
      suite: nodeSuite,
      ...(signer ? { signer } : {}),
      ...(files.grant ? { grant: readGrantFile(files.grant) } : {}),
      ...(files.signedBy ? { trusted: [publicIdentityFromId(nodeSuite, files.signedBy)] } : {}),
    }),
  );
  return client;
}

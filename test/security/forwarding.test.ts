/**
 * Signatures survive forwarding: a client signs for gateway B and sends through
 * gateway A (`host` hops), both the real command with security on; B verifies the
 * signature and the grant and answers, signed by B, through A. With node-jstp in the
 * middle too, which passes the dispatch on with its unknown headers (and fills in an
 * absent body as {}, which the signed content already counts as {}).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../gateway/client.js';
import type { Hop } from '../../gateway/jstp/dispatch.js';
import { startNodeJstp, type NodeJstpPeer } from '../support/node-jstp.js';
import { pasarelaRuns, Run } from '../support/pasarela.js';
import { newGrant, newIdentity, securedConfig, signedClient, tempDir } from './command-helpers.js';

const runs = pasarelaRuns();
let dir: string;
let remove: () => Promise<void>;
const gateways: Run[] = [];
const clients: Client[] = [];
let node: NodeJstpPeer | undefined;
let a: number;
let b: number;
let bId: string;
let files: { identity: string; grant: string };
let stranger: { identity: string };

async function start(config: string): Promise<number> {
  const run = new Run(['--tcp', '0', '--http', '0', '--config', config]);
  gateways.push(run);
  return (await run.log('ready')).tcp as number;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  const [owner, , gatewayB, alice, mallory] = await Promise.all(['owner', 'a', 'b', 'alice', 'mallory'].map((name) => newIdentity(runs, dir, name)));
  bId = gatewayB!.id;
  const grant = await newGrant(runs, dir, 'alice', alice!.id, owner!.file, '--can', 'read');
  files = { identity: alice!.file, grant };
  stranger = { identity: mallory!.file };
  const [configA, configB] = await Promise.all([
    securedConfig(dir, [owner!.id], 'jstp: { forwarding: { enabled: true } }\n', 'none', 'a'),
    securedConfig(dir, [owner!.id], '', 'none', 'b'),
  ]);
  [a, b, node] = await Promise.all([start(configA), start(configB), startNodeJstp({ tcpPort: 0, answerTimeoutMs: 5_000 })]);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const run of gateways) run.kill();
  await node?.close();
  await remove();
});

function client(port: number, credentials: { identity?: string; grant?: string }): Client {
  const made = signedClient(`tcp://127.0.0.1:${port}`, { ...credentials, signedBy: bId });
  clients.push(made);
  return made;
}

describe('forwarding keeps signatures valid', () => {
  it('client -> A -> B: B verifies it and answers, signed by B and bound to the request', async () => {
    const c = client(a, files);
    await c.ready();
    const hop: Hop = ['127.0.0.1', b, 'tcp'];
    const answers = await c.get(['devices'], undefined, { host: [hop] }).all();
    // --signed-by B: an answer not signed by B, or not for this request, would be a 401 here.
    expect(answers.map((x) => [x.status, x.body])).toEqual([[200, []]]);
    // A second dispatch on the same connection, forwarded again.
    expect((await c.get(['devices'], undefined, { host: [hop] }).all()).map((x) => x.status)).toEqual([200]);
    // B refuses a signer without a grant, however it got there.
    const nobody = signedClient(`tcp://127.0.0.1:${a}`, stranger);
    clients.push(nobody);
    await nobody.ready();
    const refused = await nobody.get(['devices'], undefined, { host: [hop] }).all();
    expect(refused.map((x) => [x.status, (x.body as { code: string }).code])).toEqual([[403, 'PASARELA_NO_GRANT']]);
  }, 60_000);

  it('client -> node-jstp -> B: the dispatch arrives intact enough to verify, and the answer comes back', async () => {
    const c = client(node!.tcpPort!, files);
    await c.ready();
    // No body: node-jstp fills in {} (and referer []) on its way, which the signature already counts as such.
    const answers = await c.get(['devices'], undefined, { host: [['127.0.0.1', b, 'tcp']] }).all();
    expect(answers.map((x) => [x.status, x.body])).toEqual([[200, []]]);
    // It went through node-jstp, which says so in its log.
    expect((await node!.logs()).some((line) => line.includes('Forwarding ANSWER 200'))).toBe(true);
  }, 60_000);

  it('through node-jstp a falsy body becomes {}, a change the signature catches (401)', async () => {
    const c = client(node!.tcpPort!, files);
    await c.ready();
    // A PUT with body 0: refused by B as tampered, before the grant is looked at.
    const answers = await c.put(['devices', 'coffee', 'properties', 'water'], 0, { host: [['127.0.0.1', b, 'tcp']] }).all();
    expect(answers.map((x) => [x.status, (x.body as { code: string }).code])).toEqual([[401, 'PASARELA_BAD_SIGNATURE']]);
  }, 60_000);
});

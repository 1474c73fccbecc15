/**
 * Sealing as the user runs it: the real `pasarela` gateways (C, and relay A with
 * forwarding on) and `pasarela call --to auto|ID --via`, which pins C's identity on
 * first use in a known-engines file and refuses a changed one, saying how to accept
 * it; `pasarela watch --identity` opening the PATCHes C seals to it, one emitted with
 * `--seal-resource`. And what the command refuses before anything is sent.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetCapabilities } from '../../gateway/security/capabilities.js';
import { writeGrantFile, writeIdentityFile } from '../../gateway/security/files.js';
import { encodeChain, issueGrant } from '../../gateway/security/grant.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { parseJson, pasarelaRuns, Run } from '../support/pasarela.js';
import { securedConfig, tempDir } from './command-helpers.js';
import { fixedIdentity } from './helpers.js';

const runs = pasarelaRuns();
const { pasarela } = runs;
const owner = fixedIdentity(31);
const gatewayC = fixedIdentity(32);
const relayA = fixedIdentity(33);
const alice = fixedIdentity(34);
const stranger = fixedIdentity(35);
let dir: string;
let remove: () => Promise<void>;
const daemons: Run[] = [];
let a: number;
let c: number;
let plain: number;
let known: string;

async function start(...args: string[]): Promise<number> {
  const run = new Run(['--tcp', '0', '--http', '0', ...args]);
  daemons.push(run);
  return (await run.log('ready')).tcp as number;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  for (const [name, identity] of [['owner', owner], ['c', gatewayC], ['a', relayA], ['alice', alice]] as const) writeIdentityFile(join(dir, `${name}.key`), identity);
  writeGrantFile(join(dir, 'alice.grant'), encodeChain([issueGrant(nodeSuite, owner, { audience: alice.id, capabilities: presetCapabilities('read') })]));
  known = join(dir, 'known-engines');
  const [configC, configA] = await Promise.all([
    securedConfig(dir, [owner.id], '', 'none', 'c'),
    securedConfig(dir, [owner.id], 'jstp: { forwarding: { enabled: true } }\n', 'none', 'a'),
  ]);
  // A third gateway with no security at all (loopback, no section): nothing to seal to.
  [c, a, plain] = await Promise.all([start('--config', configC), start('--config', configA), start()]);
}, 90_000);

afterAll(async () => {
  for (const run of daemons) run.kill();
  await remove();
});

describe('pasarela call --to', () => {
  it('auto: pins the engine at the end of --via on first use, seals to it, and checks its answers against it', async () => {
    const first = pasarela('call', 'GET', 'gateway/security', '--url', `tcp://127.0.0.1:${a}`, '--via', `tcp://127.0.0.1:${c}`, '--to', 'auto', '--identity', join(dir, 'owner.key'), '--known-engines', known);
    expect((await first.exited).code, first.stderr.join('\n')).toBe(0);
    expect(first.stderr.join('\n')).toContain(`pinned ${gatewayC.id} for tcp://127.0.0.1:${c} in ${known}`);
    // C opened it (and sealed its answer back) while the command waited.
    const stats = parseJson(first.stdout[0]!.replace(/^200 Ok /, '')) as { sealing: { opened: number; sealed: number } };
    expect(stats.sealing.opened).toBeGreaterThanOrEqual(1);
    expect((await readFile(known, 'utf8')).trim().split('\n').at(-1)).toMatch(new RegExp(`^tcp://127\\.0\\.0\\.1:${c} ${gatewayC.id} [A-Za-z0-9_-]{43}$`));
    // By id, once pinned: no lookup, same result. And through a hop nobody listens on, the
    // relay's 502 is all there is: no identity to seal to, nothing sent.
    const byId = pasarela('call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${a}`, '--via', `tcp://127.0.0.1:${c}`, '--to', gatewayC.id, '--identity', join(dir, 'owner.key'), '--known-engines', known);
    const badHop = pasarela('call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${a}`, '--via', 'tcp://127.0.0.1:1', '--to', gatewayC.id, '--identity', join(dir, 'owner.key'), '--known-engines', known);
    const [ok, bad] = await Promise.all([byId.exited, badHop.exited]);
    expect(ok.code, byId.stderr.join('\n')).toBe(0);
    expect(byId.stdout[0]).toMatch(/^200 Ok \{"id":/);
    expect(bad.code).toBe(1);
    expect(badHop.stderr.join('\n')).toMatch(/tcp:\/\/127\.0\.0\.1:1 has no identity document to seal to \(GET gateway\/identity: 502/);
  }, 60_000);

  it('refuses an engine whose key changed, saying how to accept it, and takes it once --to names it', async () => {
    const pins = join(dir, 'changed-engines');
    // As if C had been set up again since: the file pins another identity for its address.
    await writeFile(pins, `# pins\ntcp://127.0.0.1:${c} ${stranger.id} AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n`);
    const refused = pasarela('call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${c}`, '--to', 'auto', '--known-engines', pins);
    expect((await refused.exited).code).toBe(1);
    const message = refused.stderr.join('\n');
    expect(message).toContain(`presents identity ${gatewayC.id}`);
    expect(message).toContain(`${pins} line 2 pins ${stranger.id}`);
    expect(message).toContain(`accept it with --to ${gatewayC.id}`);
    expect(message).toContain('pasarela identity show');
    expect(refused.stdout).toEqual([]);
    // Named explicitly (after checking it on the gateway): accepted and pinned instead.
    const accepted = pasarela('call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${c}`, '--to', gatewayC.id, '--known-engines', pins);
    expect((await accepted.exited).code, accepted.stderr.join('\n')).toBe(0);
    expect(accepted.stderr.join('\n')).toContain(`now pinned to ${gatewayC.id}`);
    expect(await readFile(pins, 'utf8')).not.toContain(stranger.id);
  }, 60_000);

  it('sends nothing to an engine that is not the one --to names, or that has no identity', async () => {
    const wrong = pasarela('call', 'PUT', 'devices/x/properties/y', '--body', '1', '--url', `tcp://127.0.0.1:${c}`, '--to', stranger.id, '--known-engines', join(dir, 'k2'));
    const none = pasarela('call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${plain}`, '--to', 'auto', '--known-engines', join(dir, 'k3'));
    const usage = [
      pasarela('call', 'PATCH', 'a/b', '--emit', '--seal-resource', '--url', `tcp://127.0.0.1:${c}`),
      pasarela('call', 'GET', 'a/b', '--via', 'carrier-pigeon://x', '--url', `tcp://127.0.0.1:${c}`),
      pasarela('call', 'GET', 'a/b', '--to', 'pas1nonsense', '--url', `tcp://127.0.0.1:${c}`),
    ];
    const [w, n, ...u] = await Promise.all([wrong, none, ...usage].map((run) => run.exited));
    expect(w!.code).toBe(1);
    expect(wrong.stderr.join('\n')).toContain(`is ${gatewayC.id}, not ${stranger.id}`);
    expect(n!.code).toBe(1);
    expect(none.stderr.join('\n')).toMatch(/has no identity document to seal to \(GET gateway\/identity: 404/);
    expect(u.map((exit) => exit!.code)).toEqual([2, 2, 2]);
    expect(usage[0]!.stderr.join('\n')).toContain('--seal-resource needs --to');
    expect(usage[1]!.stderr.join('\n')).toContain('--via');
    expect(usage[2]!.stderr.join('\n')).toContain('not an identity id');
  }, 60_000);
});

describe('pasarela watch --identity', () => {
  async function sealingStats(): Promise<{ opened: number; recipients: number }> {
    const stats = pasarela('call', 'GET', 'gateway/security', '--url', `tcp://127.0.0.1:${c}`, '--identity', join(dir, 'owner.key'));
    expect((await stats.exited).code).toBe(0);
    return (parseJson(stats.stdout[0]!.replace(/^200 Ok /, '')) as { sealing: { opened: number; recipients: number } }).sealing;
  }

  it('opens the PATCHes the gateway seals to it; one emitted with its resource sealed comes out the same', async () => {
    const watch = pasarela('watch', 'PATCH', 'devices/door/...', '--url', `tcp://127.0.0.1:${c}`, '--identity', join(dir, 'alice.key'), '--grant', join(dir, 'alice.grant'));
    const [before] = await Promise.all([sealingStats(), watch.line('stderr', (line) => line.startsWith('watching'))]);
    const emit = pasarela('call', 'PATCH', 'devices/door/properties/code', '--body', '{"value":"4711-sealed"}', '--emit', '--seal-resource', '--url', `tcp://127.0.0.1:${c}`, '--to', gatewayC.id, '--identity', join(dir, 'owner.key'), '--known-engines', known);
    expect((await emit.exited).code, emit.stderr.join('\n')).toBe(0);
    const line = await watch.line('stdout', (text) => text.includes('4711-sealed'));
    expect(line).toBe('PATCH devices/door/properties/code {"value":"4711-sealed"}');
    // C opened the emit, and sealed its delivery to one recipient: alice.
    const after = await sealingStats();
    expect(after.opened - before.opened).toBe(1);
    expect(after.recipients - before.recipients).toBe(1);
  }, 60_000);
});

/**
 * The security commands, run as the user runs them: `identity new/show`, `grant`,
 * `delegate`, `call`/`watch` with `--identity`, `--grant` and `--signed-by`, the
 * default of a gateway that listens beyond loopback with no `security` section, and
 * the config's errors.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeChain } from '../../gateway/security/grant.js';
import { parseJson, pasarelaRuns } from '../support/pasarela.js';
import { newGrant, newIdentity, securedConfig, tempDir } from './command-helpers.js';

const runs = pasarelaRuns();
const { pasarela, gateway } = runs;
let dir: string;
let remove: () => Promise<void>;
let owner: { id: string; file: string };
let gatewayKey: { id: string; file: string };
let alice: { id: string; file: string };
let bob: { id: string; file: string };

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  [owner, gatewayKey, alice, bob] = (await Promise.all(['owner', 'gateway', 'alice', 'bob'].map((name) => newIdentity(runs, dir, name)))) as [typeof owner, typeof owner, typeof owner, typeof owner];
}, 60_000);

afterAll(async () => {
  await remove();
});

describe('pasarela identity', () => {
  it('new writes a JWK Set of mode 0600 and prints the id alone; show prints id, kid and keys', async () => {
    expect(owner.id).toMatch(/^pas1[02-9ac-hj-np-z]{58}$/);
    expect((await stat(owner.file)).mode & 0o777).toBe(0o600);
    const jwks = JSON.parse(await readFile(owner.file, 'utf8')) as { keys: { crv: string; kid: string }[] };
    expect(jwks.keys.map((k) => [k.crv, k.kid])).toEqual([['Ed25519', owner.id], ['X25519', owner.id]]);
    const show = pasarela('identity', 'show', owner.file);
    expect((await show.exited).code).toBe(0);
    expect(show.stdout[0]).toBe(owner.id);
    expect(show.stdout[1]).toMatch(/^kid {6}[0-9a-f]{16}$/);
    expect(show.stdout[2]).toMatch(/^ed25519 {2}[A-Za-z0-9_-]{43}$/);
    expect(show.stdout[3]).toMatch(/^x25519 {3}[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a file others can read, saying how to fix it, and never overwrites an identity', async () => {
    const loose = join(dir, 'loose.key');
    await writeFile(loose, await readFile(owner.file));
    await chmod(loose, 0o644);
    const show = pasarela('identity', 'show', loose);
    expect((await show.exited).code).toBe(2);
    expect(show.stderr.join('\n')).toContain(`chmod 600 ${loose}`);
    expect(show.stderr.join('\n')).toContain('mode 0644');
    const again = pasarela('identity', 'new', '--out', owner.file);
    expect((await again.exited).code).toBe(2);
    expect(again.stderr.join('\n')).toContain('exists');
  });
});

describe('pasarela grant and delegate', () => {
  it('grant issues a preset limited to devices and time; delegate narrows it and can never widen it', async () => {
    const file = await newGrant(runs, dir, 'alice-operate', alice.id, owner.file, '--can', 'operate', '--devices', 'coffee,rover', '--expires', '7d');
    const { grants } = decodeChain((await readFile(file, 'utf8')).trim());
    expect(grants).toHaveLength(1);
    expect(grants[0]!.claims).toMatchObject({ issuer: owner.id, audience: alice.id });
    const week = Math.floor(Date.now() / 1000) + 7 * 86_400;
    expect(Math.abs(grants[0]!.claims.expires! - week)).toBeLessThan(120);

    const narrower = join(dir, 'bob-read.grant');
    const ok = pasarela('delegate', file, '--to', bob.id, '--can', 'read', '--devices', 'coffee', '--expires', '1d', '--identity', alice.file, '--out', narrower);
    expect((await ok.exited).code).toBe(0);
    expect(decodeChain((await readFile(narrower, 'utf8')).trim()).grants.map((g) => g.claims.audience)).toEqual([alice.id, bob.id]);

    const refusals: Array<[string[], RegExp]> = [
      [['--can', 'admin'], /can only narrow/],
      [['--can', 'read', '--devices', 'coffee,plug'], /devices\/plug/],
      [['--can', 'read', '--devices', 'coffee', '--expires', '30d'], /cannot outlive/],
    ];
    const wide = refusals.map(([flags]) => pasarela('delegate', file, '--to', bob.id, ...flags, '--identity', alice.file, '--out', join(dir, 'never.grant')));
    // Only the holder can delegate.
    const stranger = pasarela('delegate', file, '--to', bob.id, '--can', 'read', '--identity', bob.file, '--out', join(dir, 'never.grant'));
    await Promise.all([...wide, stranger].map((run) => run.exited));
    refusals.forEach(([flags, message], i) => {
      expect(wide[i]!.child.exitCode, flags.join(' ')).toBe(2);
      expect(wide[i]!.stderr.join('\n')).toMatch(message);
    });
    expect(stranger.child.exitCode).toBe(2);
    expect(stranger.stderr.join('\n')).toContain(`was given to ${alice.id}`);
  });

  it('names what is wrong with its arguments', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['grant', 'pas1nonsense', '--can', 'read', '--identity', owner.file, '--out', 'x'], /not an identity id/],
      [['grant', alice.id, '--can', 'everything', '--identity', owner.file, '--out', 'x'], /expected one of admin, operate, read, serve/],
      [['grant', alice.id, '--can', 'serve', '--identity', owner.file, '--out', 'x'], /name them/],
      [['grant', alice.id, '--can', 'read', '--expires', 'soon', '--identity', owner.file, '--out', 'x'], /duration/],
      [['grant', alice.id, '--can', 'read', '--identity', join(dir, 'missing.key'), '--out', 'x'], /ENOENT/],
    ];
    const spawned = cases.map(([args]) => pasarela(...args));
    const exits = await Promise.all(spawned.map((run) => run.exited));
    cases.forEach(([args, message], i) => {
      expect(exits[i]!.code, args.join(' ')).toBe(2);
      expect(spawned[i]!.stderr.join('\n')).toMatch(message);
    });
  });
});

describe('a gateway with a security section', () => {
  it('call and watch sign with --identity, present --grant, and check --signed-by', async () => {
    const config = await securedConfig(dir, [owner.id]);
    const { tcp } = await gateway('--config', config);
    const url = `tcp://127.0.0.1:${tcp}`;
    const readGrant = await newGrant(runs, dir, 'alice-read', alice.id, owner.file, '--can', 'read');
    const unsigned = pasarela('call', 'GET', 'devices', '--url', url);
    const granted = pasarela('call', 'GET', 'devices', '--url', url, '--identity', alice.file, '--grant', readGrant, '--signed-by', gatewayKey.id);
    const other = pasarela('call', 'GET', 'devices', '--url', url, '--identity', alice.file, '--grant', readGrant, '--signed-by', bob.id);
    const write = pasarela('call', 'PUT', 'devices/coffee/properties/keepWarm', '--body', 'true', '--url', url, '--identity', alice.file, '--grant', readGrant);
    const [u, g, o, w] = await Promise.all([unsigned, granted, other, write].map((run) => run.exited));
    expect(u!.code).toBe(1);
    expect(unsigned.stdout[0]).toMatch(/^401 Unauthorized .*PASARELA_UNSIGNED/);
    expect(g!.code).toBe(0);
    expect(granted.stdout).toEqual(['200 Ok []']);
    // Signed by the gateway, not by bob: refused here.
    expect(o!.code).toBe(1);
    expect(other.stdout[0]).toMatch(/^401 Unauthorized .*not signed by a trusted identity/);
    expect(w!.code).toBe(1);
    expect(write.stdout[0]).toMatch(/^403 Forbidden .*PASARELA_NOT_GRANTED/);

    // watch with a grant receives what it covers. The owner emits until the watch shows
    // it: the watch's BIND and the emits come on different connections, in no set order.
    const watching = pasarela('watch', 'PATCH', 'devices/...', '--url', url, '--identity', alice.file, '--grant', readGrant);
    await watching.line('stderr', (line) => line.startsWith('watching'));
    const seen = (line: string): boolean => line === 'PATCH devices/coffee/properties/water {"value":1}';
    for (let tries = 0; !watching.stdout.some(seen); tries++) {
      if (tries === 10) throw new Error(`the watch saw nothing: ${watching.stderr.join('\n')}`);
      const emit = pasarela('call', 'PATCH', 'devices/coffee/properties/water', '--emit', '--body', '{"value":1}', '--url', url, '--identity', owner.file);
      expect((await emit.exited).code).toBe(0);
      await watching.line('stdout', seen, 2_000).catch(() => undefined);
    }
    watching.kill('SIGINT');
    expect((await watching.exited).code).toBe(0);

    // watch: a BIND the grant does not cover is refused at once, with why.
    const watch = pasarela('watch', 'PUT', 'devices/...', '--url', url, '--identity', alice.file, '--grant', readGrant);
    expect((await watch.exited).code).toBe(1);
    expect(watch.stderr.join('\n')).toMatch(/BIND refused: 403 Forbidden .*PASARELA_NOT_GRANTED/);
  });

  it('refuses to start with an identity file others can read, or an owner that is no identity id', async () => {
    const loose = join(dir, 'loose-gateway.key');
    await writeFile(loose, await readFile(gatewayKey.file), { mode: 0o640 });
    await chmod(loose, 0o640);
    const config = join(dir, 'loose.yaml');
    await writeFile(config, `listen: { host: 127.0.0.1, tcp: 0, http: 0 }\nsecurity:\n  identity: ./loose-gateway.key\n  owners: [${owner.id}]\n`);
    const bad = join(dir, 'bad-owner.yaml');
    await writeFile(bad, `listen: { tcp: 0, http: 0 }\nsecurity:\n  identity: ./gateway.key\n  owners:\n    - pas1notanid\n`);
    const unknown = join(dir, 'unknown-key.yaml');
    await writeFile(unknown, `security:\n  identity: ./gateway.key\n  owner: [${owner.id}]\n`);
    const [run, refused, typo] = [pasarela('--config', config), pasarela('--config', bad), pasarela('--config', unknown)];
    const [runExit, refusedExit, typoExit] = await Promise.all([run.exited, refused.exited, typo.exited]);
    expect(runExit!.code).toBe(1);
    expect(run.stderr.join('\n')).toContain(`chmod 600 ${loose}`);
    expect(refusedExit!.code).toBe(2);
    expect(refused.stderr.join('\n')).toContain(`${bad}:5: security.owners[0]: expected an identity id`);
    expect(typoExit!.code).toBe(2);
    expect(typo.stderr.join('\n')).toContain('security.owner: expected one of the keys identity, owners, anonymous, replayState');
  });
});

describe('a gateway listening beyond loopback without a security section', () => {
  it('refuses unsigned dispatches except GET ["gateway"], and logs how to set up an owner', async () => {
    const { run, tcp } = await gateway('--host', '0.0.0.0');
    const advice = run.stdout.map(parseJson).find((line) => typeof line?.msg === 'string' && line.msg.includes('no "security" section'));
    expect(advice?.level).toBe(40);
    expect(advice?.msg).toContain('pasarela identity new --out owner.key');
    expect(advice?.msg).toContain('owners: [<your id>]');
    const url = `tcp://127.0.0.1:${tcp}`;
    const allowed = pasarela('call', 'GET', 'gateway', '--url', url);
    const refused = pasarela('call', 'GET', 'devices', '--url', url);
    const signed = pasarela('call', 'GET', 'devices', '--url', url, '--identity', alice.file);
    await Promise.all([allowed.exited, refused.exited, signed.exited]);
    expect(allowed.stdout[0]).toMatch(/^200 Ok /);
    expect(refused.stdout[0]).toMatch(/^401 Unauthorized .*PASARELA_UNSIGNED/);
    // Signed, but there is no owner to grant anything.
    expect(signed.stdout[0]).toMatch(/^403 Forbidden .*PASARELA_NO_GRANT/);
  });

  it('on loopback it behaves as before', async () => {
    const { run, tcp } = await gateway();
    const call = pasarela('call', 'GET', 'devices', '--url', `tcp://127.0.0.1:${tcp}`);
    expect((await call.exited).code).toBe(0);
    expect(run.stdout.some((line) => line.includes('security'))).toBe(false);
  });
});

/**
 * The authorization matrix, whole, against the real `pasarela` command over TCP:
 * every principal (unsigned, an owner, a stranger, each preset with and without
 * --devices, an expired, a forged and a foreign-rooted grant) x every method x
 * resources on three devices, each outcome compared with what the presets say
 * (written out here independently of the code); then deliveries: each subscriber
 * receives only what its grant covers, and only a serve grant is asked to answer.
 * Identities and grants are made by `pasarela identity new` and `pasarela grant`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Incoming } from '../../gateway/client.js';
import { fromBase64url } from '../../gateway/security/bytes.js';
import { presetCapabilities } from '../../gateway/security/capabilities.js';
import { encodeChain, issueGrant } from '../../gateway/security/grant.js';
import { readIdentityFile } from '../../gateway/security/files.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { pasarelaRuns, Run } from '../support/pasarela.js';
import { until } from '../support/until.js';
import { newGrant, newIdentity, securedConfig, signedClient, tempDir } from './command-helpers.js';

const runs = pasarelaRuns();
let dir: string;
let remove: () => Promise<void>;
let url: string;
let gatewayId: string;
let strangerId: string;
/** Lives for the whole file (pasarelaRuns ends its processes after each test). */
let gatewayRun: Run | undefined;
const files = new Map<string, { identity?: string; grant?: string }>();
const clients: Client[] = [];

type Outcome = 'ok' | 'NO_ANSWER' | 'UNSIGNED' | 'NO_GRANT' | 'NOT_GRANTED' | 'GRANT_EXPIRED' | 'BAD_GRANT';
const METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;
const DEVICES = ['coffee', 'rover', 'lamp'] as const;

/** What each principal may send, as the presets promise it (docs/spec/security.md, "Presets"). */
function expected(principal: string, method: string, resource: readonly string[]): Outcome {
  const discovery = method === 'GET' && resource.length === 1 && resource[0] === 'gateway';
  if (principal === 'forged' || principal === 'foreign') return 'BAD_GRANT';
  if (discovery) return 'ok';
  const device = resource[1];
  const list = method === 'GET' && resource.length === 1 && resource[0] === 'devices';
  switch (principal) {
    case 'unsigned':
      return 'UNSIGNED';
    case 'stranger':
      return 'NO_GRANT';
    case 'expired':
      return 'GRANT_EXPIRED';
    case 'owner':
    case 'admin':
      return 'ok';
    case 'operate':
    case 'operate-rover':
      if (list) return 'ok';
      if (principal === 'operate-rover' && device !== 'rover') return 'NOT_GRANTED';
      return ['GET', 'PUT', 'POST'].includes(method) ? 'ok' : 'NOT_GRANTED';
    case 'read':
    case 'read-coffee':
      if (list) return 'ok';
      if (principal === 'read-coffee' && device !== 'coffee') return 'NOT_GRANTED';
      return method === 'GET' ? 'ok' : 'NOT_GRANTED';
    case 'serve-lamp':
      if (list) return 'ok';
      // It acts as the lamp: sends its PATCHes and events, answers for it; it does not read.
      if (device !== 'lamp') return 'NOT_GRANTED';
      if (method === 'PATCH') return 'ok';
      if (method === 'POST' && resource[2] === 'events') return 'ok';
      return 'NOT_GRANTED';
  }
  throw new Error(`no such principal ${principal}`);
}

function client(principal: string): Client {
  const found = files.get(principal) ?? {};
  const made = signedClient(url, found);
  clients.push(made);
  return made;
}

async function outcome(principal: string, method: (typeof METHODS)[number], resource: string[], fresh = false): Promise<Outcome> {
  const c = fresh ? client(principal) : (cache.get(principal) ?? cache.set(principal, client(principal)).get(principal)!);
  await c.ready();
  const answers = await c.request(method, resource, method === 'GET' || method === 'DELETE' ? undefined : { value: 1 }).all();
  // A fresh connection each try: closed at once, so the tries stay within maxConnectionsPerAddress.
  if (fresh) await c.close();
  if (answers.length === 0) return 'NO_ANSWER';
  const refusal = answers.find((a) => a.status === 401 || a.status === 403);
  if (!refusal) return 'ok';
  const code = (refusal.body as { code?: string } | undefined)?.code ?? '';
  return code.replace(/^PASARELA_/, '') as Outcome;
}

const cache = new Map<string, Client>();

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  const names = ['owner', 'gateway', 'stranger', 'admin', 'operate', 'operate-rover', 'read', 'read-coffee', 'serve-lamp', 'expired', 'forged', 'foreign'];
  const ids = Object.fromEntries((await Promise.all(names.map((name) => newIdentity(runs, dir, name)))).map((made, i) => [names[i]!, made]));
  gatewayId = ids.gateway!.id;
  strangerId = ids.stranger!.id;
  const owner = ids.owner!;
  const grants: Array<[string, string[]]> = [
    ['admin', ['--can', 'admin']],
    ['operate', ['--can', 'operate']],
    ['operate-rover', ['--can', 'operate', '--devices', 'rover']],
    ['read', ['--can', 'read', '--expires', '1d']],
    ['read-coffee', ['--can', 'read', '--devices', 'coffee']],
    ['serve-lamp', ['--can', 'serve', '--devices', 'lamp']],
    ['forged', ['--can', 'operate']],
  ];
  const made = await Promise.all(grants.map(([name, flags]) => newGrant(runs, dir, name, ids[name]!.id, owner.file, ...flags)));
  grants.forEach(([name], i) => files.set(name, { identity: ids[name]!.file, grant: made[i]! }));
  files.set('owner', { identity: owner.file });
  files.set('stranger', { identity: ids.stranger!.file });
  files.set('unsigned', {});
  // An expired grant (the command refuses a past --expires, so the library makes it).
  const now = Math.floor(Date.now() / 1000);
  const expired = issueGrant(nodeSuite, readIdentityFile(owner.file, nodeSuite), { audience: ids.expired!.id, capabilities: presetCapabilities('read'), notBefore: now - 7200, expires: now - 3600 });
  await writeFile(join(dir, 'expired.grant'), encodeChain([expired]));
  files.set('expired', { identity: ids.expired!.file, grant: join(dir, 'expired.grant') });
  // Forged: one bit of the signature changed. Foreign: admin, issued by a stranger.
  const forged = fromBase64url((await readFile(made[6]!, 'utf8')).trim())!;
  forged[forged.length - 5]! ^= 0x10;
  await writeFile(made[6]!, Buffer.from(forged).toString('base64url'));
  await newGrant(runs, dir, 'foreign', ids.foreign!.id, ids.stranger!.file, '--can', 'admin');
  files.set('foreign', { identity: ids.foreign!.file, grant: join(dir, 'foreign.grant') });

  const config = await securedConfig(dir, [owner.id]);
  gatewayRun = new Run(['--tcp', '0', '--http', '0', '--config', config]);
  const ready = await gatewayRun.log('ready');
  url = `tcp://127.0.0.1:${String(ready.tcp)}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  gatewayRun?.kill();
  await remove();
});

describe('the authorization matrix through the command and the wire', () => {
  it('every principal x method x resource gets what the presets say', async () => {
    const principals = ['unsigned', 'owner', 'stranger', 'admin', 'operate', 'operate-rover', 'read', 'read-coffee', 'serve-lamp', 'expired', 'forged', 'foreign'];
    const resources: string[][] = [['gateway'], ['devices'], ...DEVICES.flatMap((d) => [['devices', d], ['devices', d, 'properties', 'power'], ['devices', d, 'events', 'on']])];
    const mismatches: string[] = [];
    let cells = 0;
    for (const principal of principals) {
      // A refused grant is refused on the dispatch that presents it: each try on a connection of its own.
      const fresh = principal === 'forged' || principal === 'foreign';
      await Promise.all(
        resources.flatMap((resource) =>
          METHODS.map(async (method) => {
            if (method !== 'GET' && resource[0] === 'gateway') return;
            cells++;
            const got = await outcome(principal, method, resource, fresh);
            const want = expected(principal, method, resource);
            if (got !== want) mismatches.push(`${principal} ${method} ${resource.join('/')}: got ${got}, want ${want}`);
          }),
        ),
      );
    }
    expect(mismatches).toEqual([]);
    expect(cells).toBe(principals.length * (1 + 10 * 5));
  }, 120_000);

  it('deliveries: each subscriber receives only what its grant covers; only a serve grant is asked to answer', async () => {
    const got = new Map<string, string[]>();
    const subscribe = (principal: string, method: string, resource: string[], answer?: (incoming: Incoming) => unknown) => {
      const c = client(principal);
      c.bind({ method: method as 'PATCH', resource }, (incoming) => {
        got.set(principal, [...(got.get(principal) ?? []), `${incoming.method} ${incoming.resource.join('/')}${incoming.expectsAnswer ? ' ?' : ''}`]);
        return answer?.(incoming);
      });
      return c;
    };
    const subscribers = [
      subscribe('read-coffee', '*', ['devices', '...']),
      subscribe('read', '*', ['devices', '...']),
      subscribe('operate-rover', '*', ['devices', '...']),
      subscribe('serve-lamp', 'POST', ['devices', 'lamp', '...'], () => 'switched on'),
    ];
    await Promise.all(subscribers.map((s) => s.ready()));
    const owner = client('owner');
    await owner.ready();
    // A connection's dispatches pass the stage in order: once a GET sent after the BIND is
    // answered, the BIND was taken (even if it waited for its replay ceiling to be written).
    await Promise.all(subscribers.map((subscriber) => subscriber.get(['gateway']).all()));
    owner.emit('PATCH', ['devices', 'coffee', 'properties', 'water'], { value: 80 });
    owner.emit('PATCH', ['devices', 'rover', 'properties', 'pose'], { value: 1 });
    owner.emit('POST', ['devices', 'coffee', 'events', 'ready'], {});
    const answers = await owner.post(['devices', 'lamp', 'actions', 'on'], {}, {}).all();
    // The lamp's server answers; so does the gateway's registry, which has no lamp of its own.
    expect(answers.map((a) => [a.status, a.status === 200 ? a.body : (a.body as { code: string }).code]).sort()).toEqual([[200, 'switched on'], [404, 'PASARELA_DEVICE_NOT_FOUND']]);
    await until(() => (got.get('read')?.length ?? 0) >= 3, 'the reader to get every PATCH and event', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got.get('read-coffee')?.sort()).toEqual(['PATCH devices/coffee/properties/water', 'POST devices/coffee/events/ready']);
    expect(got.get('read')?.sort()).toEqual(['PATCH devices/coffee/properties/water', 'PATCH devices/rover/properties/pose', 'POST devices/coffee/events/ready']);
    expect(got.get('operate-rover')).toEqual(['PATCH devices/rover/properties/pose']);
    expect(got.get('serve-lamp')).toEqual(['POST devices/lamp/actions/on ?']);
  }, 60_000);

  it("answers are signed by the gateway and bound to the request: a client checks them with --signed-by's key", async () => {
    const checked = signedClient(url, { ...files.get('read')!, signedBy: gatewayId });
    const wrong = signedClient(url, { ...files.get('read')!, signedBy: strangerId });
    clients.push(checked, wrong);
    await Promise.all([checked.ready(), wrong.ready()]);
    expect((await checked.get(['devices']).all()).map((a) => a.status)).toEqual([200]);
    const refused = await wrong.get(['devices']).all();
    expect(refused.map((a) => [a.status, (a.body as { code: string }).code])).toEqual([[401, 'PASARELA_BAD_SIGNATURE']]);
  });
});

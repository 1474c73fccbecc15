/**
 * Client -> A -> B -> gateway C, real gateways with security on, A and B relaying by
 * `host` hops and logging at trace level, every byte into and out of A and B
 * captured by proxies, over TCP and over WebSocket (frames unmasked). A sealed PUT
 * shows its method, resource, body and author to nobody but C; C opens it, verifies
 * it and answers sealed, signed by C; a plain PUT through the same chain, the control,
 * is seen by all. A byte changed on the way: 401, nothing processed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import type { Dispatch, Hop } from '../../gateway/jstp/dispatch.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import type { GatewayPlugin } from '../../gateway/plugin.js';
import { base64url, fromBase64url } from '../../gateway/security/bytes.js';
import { ClientSecurityStage } from '../../gateway/security/client-stage.js';
import { readSignature } from '../../gateway/security/dispatch-signature.js';
import { writeIdentityFile } from '../../gateway/security/files.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { securityPlugin } from '../../gateway/security/plugin.js';
import { SEALED_HEADER } from '../../gateway/security/sealed-dispatch.js';
import { SealingStage } from '../../gateway/security/sealing-stage.js';
import { CaptureProxy } from '../support/capture-proxy.js';
import { fixedIdentity, owner, signerFor } from './helpers.js';

const SECRET = 'hunter2-9f3a-combination';
const PLAIN = 'plain-7c1e-for-all-to-see';
// Not under devices/: the registry would answer too.
const VAULT = ['vault-b72d', 'combination'];
const identities = { a: fixedIdentity(21), b: fixedIdentity(22), c: fixedIdentity(23) };
const toC = { kid: identities.c.kid, kidHex: identities.c.kidHex, agreementKey: identities.c.agreementKey };

let dir: string;
const gateways: Record<'a' | 'b' | 'c', Gateway> = {} as never;
const proxies: Record<'a' | 'b' | 'c', { tcp: CaptureProxy; ws: CaptureProxy }> = {} as never;
const logs: Record<'a' | 'b', string[]> = { a: [], b: [] };
const reached: Dispatch[] = [];
const clients: Client[] = [];

/** Every line a gateway logs, at every level, as JSON: what an operator's log would hold. */
function capturing(lines: string[]): Logger {
  const at = (level: string) => (fields: object | string, message?: string) => {
    lines.push(JSON.stringify(typeof fields === 'string' ? { level, msg: fields } : { level, ...fields, msg: message }));
  };
  const logger: Logger = { fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace'), child: () => logger };
  return logger;
}

const vault: GatewayPlugin = {
  name: 'vault',
  async start(context) {
    return context.engine.bind({ method: '*', resource: ['vault-b72d', '...'] }, (incoming) => {
      reached.push(incoming.dispatch);
      return { stored: incoming.body };
    });
  },
};

async function start(name: 'a' | 'b' | 'c'): Promise<void> {
  writeIdentityFile(join(dir, `${name}.key`), identities[name]);
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', tcp: 0, http: 0 },
      log: { level: 'trace' },
      security: { identity: `./${name}.key`, owners: [owner.id], anonymous: 'none' },
      ...(name === 'c' ? {} : { jstp: { forwarding: { enabled: true } } }),
    },
    name,
  );
  gateways[name] = await startGateway(config, {
    configDir: dir,
    plugins: [securityPlugin(), ...(name === 'c' ? [vault] : [])],
    ...(name === 'c' ? {} : { logger: capturing(logs[name]) }),
  });
  proxies[name] = { tcp: await CaptureProxy.start(gateways[name].ports.tcp), ws: await CaptureProxy.start(gateways[name].ports.http, { websocket: true }) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-sealing-chain-'));
  await Promise.all((['a', 'b', 'c'] as const).map(start));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const pair of Object.values(proxies)) await Promise.all([pair.tcp.close(), pair.ws.close()]);
  await Promise.all(Object.values(gateways).map((g) => g.close()));
  await rm(dir, { recursive: true, force: true });
});

/** The owner's client through A: signs, and seals to C when asked; trusts only C's answers. */
async function ownerClient(url: string, sealed: boolean): Promise<Client> {
  const client = connect(url, { reconnect: false });
  clients.push(client);
  if (sealed) client.use(new SealingStage({ suite: nodeSuite, identity: owner, present: true, recipient: toC }));
  client.use(new ClientSecurityStage({ suite: nodeSuite, signer: signerFor(owner, 4096 * (clients.length + 10)), trusted: [identities.c] }));
  await client.ready();
  return client;
}

function clearAll(): void {
  for (const pair of Object.values(proxies)) {
    pair.tcp.clear();
    pair.ws.clear();
  }
  logs.a.length = 0;
  logs.b.length = 0;
  reached.length = 0;
}

describe.each(['tcp', 'ws'] as const)('client -> A -> B -> C over %s', (label) => {
  const url = (): string => (label === 'tcp' ? `tcp://127.0.0.1:${proxies.a.tcp.port}` : `ws://127.0.0.1:${proxies.a.ws.port}/`);
  const hops = (): Hop[] => [
    ['127.0.0.1', proxies.b[label].port, label],
    ['127.0.0.1', proxies.c[label].port, label],
  ];
  /** What A and B received and sent: the proxies in front of A, between A and B, and between B and C. */
  const relayed = (): string => proxies.a[label].text() + proxies.b[label].text() + proxies.c[label].text();

  it('a sealed PUT: A and B see only the outside, in their bytes and their logs; C opens it and answers sealed, signed by C', async () => {
    clearAll();
    const client = await ownerClient(url(), true);
    const answers = await client.put(VAULT, { value: SECRET }, { host: hops() }).all();
    // C's answer, opened and verified against C's key (anything else would be a 401 here).
    expect(answers.map((a) => [a.status, a.body])).toEqual([[200, { stored: { value: SECRET } }]]);
    expect(reached.map((d) => [d.method, d.resource, d.body])).toEqual([['PUT', VAULT, { value: SECRET }]]);

    const bytes = relayed();
    expect(bytes.length).toBeGreaterThan(500);
    for (const secret of [SECRET, 'vault-b72d', '"PUT"', '"ident"', '"grant"', owner.id]) expect(bytes, secret).not.toContain(secret);
    // The only signatures in sight are the relays' own (A and B close their part with a
    // signed 101): neither the author's nor C's.
    const signers = new Set<string>();
    for (const name of ['a', 'b', 'c'] as const) {
      for (const d of [...proxies[name][label].messages('in'), ...proxies[name][label].messages('out')]) {
        if (d.sig === undefined) continue;
        const reading = readSignature(d.sig);
        signers.add(reading.ok ? reading.signature.kidHex : 'malformed');
      }
    }
    expect([...signers].every((kid) => kid === identities.a.kidHex || kid === identities.b.kidHex), [...signers].join(' ')).toBe(true);
    for (const line of [...logs.a, ...logs.b]) for (const secret of [SECRET, 'vault-b72d', 'PUT']) expect(line).not.toContain(secret);
    // What each relay knew of it: the hops left, the recipient's kid, the size.
    for (const name of ['a', 'b'] as const) {
      const seen = logs[name].map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'relaying a sealed dispatch');
      expect(seen, `${name}'s trace line`).toMatchObject({ level: 'trace', to: [identities.c.kidHex], bytes: expect.any(Number) });
    }
    // The request as A received it: POST ["sealed"] at 0, with its hops; nothing else.
    const arrived = proxies.a[label].messages('in').find((d) => d[SEALED_HEADER] !== undefined)!;
    expect(Object.keys(arrived).sort()).toEqual(['host', 'method', 'protocol', 'resource', SEALED_HEADER, 'timestamp', 'token'].sort());
    expect(arrived).toMatchObject({ method: 'POST', resource: ['sealed'], timestamp: 0 });
    // C's answer on its way back through B and A is sealed (200 outside, no body) on every
    // hop, and so is C's 101 to B; each relay closes its own part with a 101 of its own.
    const back = [...proxies.a[label].messages('out'), ...proxies.b[label].messages('out'), ...proxies.c[label].messages('out')].filter((d) => d.method === 'ANSWER');
    const sealed = back.filter((d) => d[SEALED_HEADER] !== undefined);
    expect(sealed.map((d) => (d.resource as number[])[0]).sort()).toEqual([101, 200, 200, 200]);
    for (const answer of back) {
      expect(answer.body).toBeUndefined();
      if (answer[SEALED_HEADER] === undefined) expect((answer.resource as number[])[0]).toBe(101);
    }
  }, 30_000);

  it('the control: the same PUT, signed but not sealed, is seen by both relays', async () => {
    clearAll();
    const client = await ownerClient(url(), false);
    const answers = await client.put(VAULT, { value: PLAIN }, { host: hops() }).all();
    expect(answers.map((a) => a.status)).toEqual([200]);
    for (const name of ['a', 'b', 'c'] as const) expect(proxies[name][label].text(), name).toContain(PLAIN);
    expect(relayed()).toContain('vault-b72d');
  }, 30_000);

  it('a byte of the seal changed between B and C: C answers 401 and processes nothing', async () => {
    clearAll();
    const client = await ownerClient(url(), true);
    await client.put(VAULT, { value: SECRET }, { host: hops() }).all();
    const captured = proxies.c[label].messages('in').find((d) => d[SEALED_HEADER] !== undefined)!;
    reached.length = 0;
    const bytes = fromBase64url(captured[SEALED_HEADER] as string)!;
    bytes[bytes.length - 20]! ^= 0x10;
    const tampered = JSON.stringify({ ...captured, token: ['4a4a4a4a-0000-4000-8000-000000000001'], [SEALED_HEADER]: base64url(bytes) });
    const answer = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const socket = net.connect(gateways.c.ports.tcp, '127.0.0.1', () => socket.write(`${tampered}\n`));
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('utf8');
        const line = text.split('\n').find((l) => l.includes('"ANSWER"'));
        if (line) {
          socket.destroy();
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
      });
      socket.on('error', reject);
    });
    expect(answer).toMatchObject({ method: 'ANSWER', resource: [401, '4a4a4a4a-0000-4000-8000-000000000001', expect.any(String)], body: { code: 'PASARELA_BAD_SEAL' } });
    expect(reached).toEqual([]);
  }, 30_000);
});

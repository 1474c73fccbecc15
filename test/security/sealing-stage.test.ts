/**
 * The sealing stage on real engines joined by an in-memory wire that carries what a
 * socket would: a request sealed to its gateway is opened, verified and answered, the
 * answer sealed back; a tampered byte or another recipient is refused (401) with
 * nothing processed; a PATCH fanned out is sealed once for every subscriber that
 * presented an identity; and what a relay sees is the outside only.
 */
import { describe, expect, it } from 'vitest';
import { base64url, fromBase64url } from '../../gateway/security/bytes.js';
import { presetCapabilities } from '../../gateway/security/capabilities.js';
import { readSignature, verifyDispatch } from '../../gateway/security/dispatch-signature.js';
import { identityDocument, verifyIdentityDocument } from '../../gateway/security/identity-document.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { open, openAnswer, readSealed, seal } from '../../gateway/security/seal.js';
import { externalAad, mergeOpened, SEALED_HEADER } from '../../gateway/security/sealed-dispatch.js';
import { SealingStage } from '../../gateway/security/sealing-stage.js';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { stageContract } from '../support/stage-contract.js';
import { alice, bob, chainText, fixedIdentity, gatewayIdentity, grantTo, mallory, owner } from './helpers.js';
import { sealedClient, sealedGateway, tick, wire } from './sealing-helpers.js';

const carol = fixedIdentity(6);
const dave = fixedIdentity(7);
const otherGateway = fixedIdentity(8);
const SECRET = 'hunter2-combination';
const VAULT = ['devices', 'vault', 'properties', 'combination'];
const readGrant = (who: typeof alice): string => chainText(grantTo(who, presetCapabilities('read')));
const operateGrant = (who: typeof alice): string => chainText(grantTo(who, presetCapabilities('operate')));
const toGateway = { kid: gatewayIdentity.kid, kidHex: gatewayIdentity.kidHex, agreementKey: gatewayIdentity.agreementKey };

stageContract('sealing (a gateway: identity, deliveries sealed when asked)', {
  make: () => new SealingStage({ suite: nodeSuite, identity: gatewayIdentity, sealDeliveries: true }),
  outcome: { kind: 'pass' },
});

/** A gateway with a vault device; its handler counts what reached it. */
function vaultGateway(identity = gatewayIdentity) {
  const gateway = sealedGateway(identity);
  const reached: Dispatch[] = [];
  gateway.engine.bind({ method: '*', resource: ['devices', 'vault', '...'] }, (incoming) => {
    reached.push(incoming.dispatch);
    return incoming.method === 'PUT' ? { stored: incoming.body } : { value: SECRET };
  });
  return { ...gateway, reached };
}

function statusAndCode(answer: { status: number; body: unknown }): [number, string | undefined] {
  return [answer.status, (answer.body as { code?: string } | undefined)?.code];
}

describe('a sealed request', () => {
  it('is opened, verified and served by its gateway, and answered sealed, signed by the gateway and bound to it', async () => {
    const gateway = vaultGateway();
    const client = sealedClient(alice, { to: toGateway, grant: operateGrant(alice), trusted: [gatewayIdentity] });
    const [toG] = wire(client.engine, gateway.engine, 'alice');
    const answers = await client.engine.peer(toG).request('PUT', VAULT, { value: SECRET }).all();
    expect(answers.map((a) => [a.status, a.body])).toEqual([[200, { stored: { value: SECRET } }]]);
    // The gateway's handler saw the whole request, signed by alice.
    expect(gateway.reached.map((d) => [d.method, d.resource, d.body])).toEqual([['PUT', VAULT, { value: SECRET }]]);
    expect(gateway.security.stats().verified).toBeGreaterThanOrEqual(1);
    // On the wire: neither way shows the method, the resource, the body or who signed.
    const out = toG.carried.find((text) => text.includes(SEALED_HEADER))!;
    const back = toG.other.carried.filter((text) => text.includes('"ANSWER"'));
    for (const text of [out, ...back]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('vault');
      expect(text).not.toContain('"PUT"');
      expect(text).not.toContain('"sig"');
      expect(text).not.toContain('"grant"');
    }
    expect(JSON.parse(out)).toMatchObject({ method: 'POST', resource: ['sealed'], timestamp: 0 });
    expect(back.every((text) => JSON.parse(text)[SEALED_HEADER] !== undefined)).toBe(true);
    // The answer the client got was signed by the gateway (trusted: a bad one would be 401).
    const inner = answers[0]!.dispatch;
    const reading = readSignature(inner.sig);
    expect(reading.ok && reading.signature.kidHex).toBe(gatewayIdentity.kidHex);
  });

  it('shows its status as 200 outside, and the real one inside: a 404 arrives as 404', async () => {
    const gateway = vaultGateway();
    const client = sealedClient(owner, { to: toGateway, trusted: [gatewayIdentity] });
    const [toG] = wire(client.engine, gateway.engine, 'owner');
    const answers = await client.engine.peer(toG).request('GET', ['devices', 'nowhere']).all();
    expect(answers.map((a) => a.status)).toEqual([404]);
    const outer = toG.other.dispatches.filter((d) => d.method === 'ANSWER').map((d) => (d.resource as number[])[0]);
    expect(outer).toEqual([200, 101]);
  });

  it('gets one answer per handler, each sealed under its own nonce', async () => {
    const gateway = sealedGateway(gatewayIdentity);
    gateway.engine.bind({ method: 'GET', resource: ['devices', 'twice'] }, () => 'first');
    gateway.engine.bind({ method: 'GET', resource: ['devices', '*'] }, () => 'second');
    const client = sealedClient(owner, { to: toGateway, trusted: [gatewayIdentity] });
    const [toG] = wire(client.engine, gateway.engine, 'owner');
    const answers = await client.engine.peer(toG).request('GET', ['devices', 'twice']).all();
    expect(answers.map((a) => a.body).sort()).toEqual(['first', 'second']);
    const ivs = toG.other.dispatches.filter((d) => d.method === 'ANSWER').map((d) => {
      const parts = readSealed(fromBase64url(d[SEALED_HEADER] as string)!);
      return parts.ok ? parts.parts.answer : -1;
    });
    expect(new Set(ivs).size).toBe(ivs.length);
    expect(ivs).toHaveLength(3);
  });

  it('replayed as captured: refused by the signature\'s replay window, and the refusal goes back sealed', async () => {
    const gateway = vaultGateway();
    const client = sealedClient(owner, { to: toGateway, trusted: [gatewayIdentity] });
    const [toG, fromClient] = wire(client.engine, gateway.engine, 'owner');
    await client.engine.peer(toG).request('GET', VAULT).all();
    const captured = JSON.parse(toG.carried.find((text) => text.includes(SEALED_HEADER))!) as Dispatch;
    // The same bytes again, under a new transaction id (an attacker can't reuse the old one).
    const replay = { ...captured, token: ['00000000-0000-4000-8000-00000000abcd'] };
    gateway.engine.receive(replay, fromClient);
    await tick();
    expect(gateway.reached).toHaveLength(1);
    const answer = fromClient.carried.map((text) => JSON.parse(text) as Dispatch).find((d) => d.resource?.[1] === '00000000-0000-4000-8000-00000000abcd' && d.resource[0] !== 101)!;
    // Opened (so sealed back) and refused by the security stage behind it: nobody else can read why.
    expect(answer[SEALED_HEADER]).toBeDefined();
    expect(JSON.stringify(answer)).not.toContain('PASARELA_REPLAY');
    expect(gateway.security.stats().refused.PASARELA_REPLAY).toBe(1);
  });
});

describe('tampering and misdelivery', () => {
  it('any byte of the seal, or of what it shows, changed: 401 and nothing processed', async () => {
    const gateway = vaultGateway();
    const client = sealedClient(owner, { to: toGateway });
    const [toG, fromClient] = wire(client.engine, gateway.engine, 'owner');
    await client.engine.peer(toG).request('PUT', VAULT, { value: SECRET }).all();
    expect(gateway.reached).toHaveLength(1);
    const captured = JSON.parse(toG.carried.find((text) => text.includes(SEALED_HEADER))!) as Dispatch;
    const bytes = fromBase64url(captured[SEALED_HEADER] as string)!;
    const variants: Dispatch[] = [];
    let n = 0;
    const token = (): [string] => [`00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`];
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const changed = bytes.slice();
        changed[i]! ^= bit;
        variants.push({ ...captured, token: token(), [SEALED_HEADER]: base64url(changed) });
      }
    }
    variants.push({ ...captured, token: token(), [SEALED_HEADER]: base64url(bytes.subarray(0, bytes.length - 1)) });
    variants.push({ ...captured, token: token(), [SEALED_HEADER]: `${captured[SEALED_HEADER] as string}AA` });
    variants.push({ ...captured, token: token(), method: 'PUT' });
    variants.push({ ...captured, token: token(), resource: ['sealed', 'x'] });
    variants.push({ ...captured, token: token(), timestamp: 1 });
    for (const variant of variants) gateway.engine.receive(JSON.parse(JSON.stringify(variant)), fromClient);
    await tick(100);
    const answers = fromClient.dispatches.filter((d) => d.method === 'ANSWER' && Number((d.resource as string[])[1]!.slice(-12)) <= n && (d.resource as number[])[0] !== 101);
    const byTransaction = new Map(answers.map((d) => [(d.resource as string[])[1], d]));
    expect(byTransaction.size).toBe(variants.length);
    const codes = new Set<string>();
    for (const answer of byTransaction.values()) {
      expect((answer.resource as number[])[0]).toBe(401);
      // Refused before opening: a plain answer, which says nothing of the content.
      expect(answer[SEALED_HEADER]).toBeUndefined();
      codes.add((answer.body as { code: string }).code);
    }
    expect([...codes].sort()).toEqual(['PASARELA_BAD_SEAL', 'PASARELA_NOT_RECIPIENT']);
    expect(gateway.reached).toHaveLength(1);
    expect(variants.length).toBeGreaterThan(300);
  });

  it('sealed to another gateway, or to one without an identity: 401 PASARELA_NOT_RECIPIENT, nothing processed', async () => {
    const other = vaultGateway(otherGateway);
    const blind = sealedGateway(undefined);
    let blindReached = 0;
    blind.engine.bind({ method: '*', resource: ['devices', '...'] }, () => {
      blindReached++;
      return 'served';
    });
    const client = sealedClient(owner, { to: toGateway });
    for (const target of [other.engine, blind.engine]) {
      const [toT] = wire(client.engine, target, 'owner');
      const answers = await client.engine.peer(toT).request('GET', VAULT).all();
      expect(answers.map(statusAndCode)).toEqual([[401, 'PASARELA_NOT_RECIPIENT']]);
    }
    expect(other.reached).toHaveLength(0);
    expect(blindReached).toBe(0);
  });

  it('a malformed seal or identity document is answered, never thrown; the engine goes on', async () => {
    const gateway = vaultGateway();
    const client = sealedClient(owner, { to: toGateway, trusted: [gatewayIdentity] });
    const [toG, fromClient] = wire(client.engine, gateway.engine, 'owner');
    const base = { protocol: ['JSTP', '0.5'], method: 'POST', resource: ['sealed'], timestamp: 0 };
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ [SEALED_HEADER]: 12 }, 401],
      [{ [SEALED_HEADER]: 'not base64!' }, 401],
      [{ [SEALED_HEADER]: base64url(Uint8Array.of(0x83, 0x40, 0xa0, 0x40)) }, 401],
      [{ [SEALED_HEADER]: base64url(Uint8Array.of(0x81, 0x00)) }, 401],
      [{ ident: 'AAAA' }, 401],
      [{ ident: identityDocument(alice).slice(0, -4) + 'AAAA' }, 401],
      [{ ident: 42 }, 401],
    ];
    cases.forEach(([headers], i) => gateway.engine.receive({ ...base, token: [`00000000-0000-4000-9000-${String(i).padStart(12, '0')}`], ...headers }, fromClient));
    await tick(50);
    const statuses = cases.map((_, i) => fromClient.dispatches.find((d) => (d.resource as string[])[1] === `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`)?.resource);
    expect(statuses.map((r) => (r as number[] | undefined)?.[0])).toEqual(cases.map(([, status]) => status));
    // Still serving.
    expect((await client.engine.peer(toG).request('GET', VAULT).all()).map((a) => a.status)).toEqual([200]);
  });

  it('a seal that opens but holds what belongs outside (a host) is answered 400, sealed back', async () => {
    const gateway = vaultGateway();
    const [, fromClient] = wire(new Engine(), gateway.engine, 'forger');
    const outer: Dispatch = { protocol: ['JSTP', '0.5'], method: 'POST', resource: ['sealed'], timestamp: 0, token: ['00000000-0000-4000-8000-0000000f0f0f'] };
    const plaintext = encodeDispatch({ method: 'GET', resource: VAULT, timestamp: Date.now(), host: [['elsewhere', 1, 'tcp']] } as unknown as Dispatch).slice();
    const sealed = seal(nodeSuite, [toGateway], plaintext, (more) => externalAad(outer, more), { answers: true });
    gateway.engine.receive({ ...outer, [SEALED_HEADER]: base64url(sealed.bytes) }, fromClient);
    await tick();
    const answer = fromClient.dispatches.find((d) => d.method === 'ANSWER' && (d.resource as number[])[0] !== 101)!;
    expect((answer.resource as number[])[0]).toBe(200);
    const parts = readSealed(fromBase64url(answer[SEALED_HEADER] as string)!);
    const opened = parts.ok ? openAnswer(nodeSuite, sealed.answerKeys!, parts.parts, externalAad(answer as unknown as Dispatch)) : undefined;
    expect(opened?.ok).toBe(true);
    const inner = opened?.ok ? mergeOpened(answer as unknown as Dispatch, opened.plaintext) : undefined;
    expect(inner?.ok && [inner.dispatch.resource?.[0], (inner.dispatch.body as { code: string }).code]).toEqual([400, 'PASARELA_BAD_DISPATCH']);
    expect(gateway.reached).toHaveLength(0);
  });

  it('a sealed answer changed on its way back is dropped by the requester, which never takes it for the answer', async () => {
    const gateway = vaultGateway();
    const client = sealedClient(owner, { to: toGateway, trusted: [gatewayIdentity] });
    const [toG] = wire(client.engine, gateway.engine, 'owner');
    // Flip a bit of every sealed answer on the way back.
    const back = toG.other;
    const send = back.send.bind(back);
    back.send = (dispatch) => {
      if (dispatch.method === 'ANSWER' && typeof dispatch[SEALED_HEADER] === 'string') {
        const bytes = fromBase64url(dispatch[SEALED_HEADER])!;
        bytes[bytes.length - 1]! ^= 1;
        send({ ...dispatch, [SEALED_HEADER]: base64url(bytes) });
      } else send(dispatch);
    };
    const answers = await client.engine.peer(toG).request('GET', VAULT).all();
    // The 200 did not open; what is left is the engine's own closing of an empty set.
    expect(answers.some((a) => a.status === 200)).toBe(false);
    expect(client.sealing.stats().refused.PASARELA_BAD_SEAL).toBeGreaterThanOrEqual(1);
  });
});

describe('a PATCH fanned out to subscribers', () => {
  it('is sealed once, for every subscriber with a grant that presented its identity; one without a grant gets nothing at all', async () => {
    const gateway = sealedGateway(gatewayIdentity);
    const subscribers = [alice, bob, carol].map((who) => {
      const client = sealedClient(who, { grant: readGrant(who), trusted: [gatewayIdentity] });
      const [toG] = wire(client.engine, gateway.engine, who.id.slice(0, 10));
      const seen: Dispatch[] = [];
      client.engine.bind({ method: 'PATCH', resource: VAULT }, (incoming) => {
        seen.push(incoming.dispatch);
      });
      return { who, client, toG, seen };
    });
    // dave has a key and presents it, but no grant.
    const stranger = sealedClient(dave, { trusted: [gatewayIdentity] });
    const [strangerToG] = wire(stranger.engine, gateway.engine, 'dave');
    const strangerSeen: Dispatch[] = [];
    stranger.engine.bind({ method: 'PATCH', resource: VAULT }, (incoming) => {
      strangerSeen.push(incoming.dispatch);
    });
    const binds = await Promise.all([...subscribers.map((s) => s.client.engine.peer(s.toG).bind({ method: 'PATCH', resource: VAULT }).all()), stranger.engine.peer(strangerToG).bind({ method: 'PATCH', resource: VAULT }).all()]);
    expect(binds.map((answers) => answers[0]!.status)).toEqual([200, 200, 200, 403]);

    gateway.engine.emit('PATCH', VAULT, { value: SECRET, at: 1 });
    await tick(50);
    for (const { seen } of subscribers) {
      expect(seen.map((d) => [d.method, d.resource, d.body])).toEqual([['PATCH', VAULT, { value: SECRET, at: 1 }]]);
      // Signed by the gateway: the trusted check let it through.
      const reading = readSignature(seen[0]!.sig);
      expect(reading.ok && verifyDispatch(nodeSuite.verifier(gatewayIdentity.signingKey), seen[0]!, reading.signature)).toBe(true);
    }
    expect(strangerSeen).toEqual([]);
    expect(strangerToG.other.dispatches.filter((d) => d.method === 'PATCH')).toEqual([]);
    // One sealing for the three: the same bytes on every connection, three recipients in them.
    const wires = subscribers.map(({ toG }) => toG.other.dispatches.filter((d) => d.method === 'PATCH'));
    expect(wires.map((w) => w.length)).toEqual([1, 1, 1]);
    const sealed = new Set(wires.map((w) => w[0]![SEALED_HEADER]));
    expect(sealed.size).toBe(1);
    for (const w of wires) {
      expect(w[0]).toMatchObject({ method: 'PATCH', resource: VAULT });
      expect(JSON.stringify(w[0])).not.toContain(SECRET);
    }
    const parts = readSealed(fromBase64url([...sealed][0] as string)!);
    expect(parts.ok && parts.parts.more?.length).toBe(2);
    expect(gateway.sealing.stats()).toMatchObject({ sealed: 1, recipients: 3 });
    // dave, handed those very bytes, cannot open them: they are not sealed to him.
    const outer = wires[0]![0]! as unknown as Dispatch;
    const stolen = parts.ok ? open(nodeSuite, { kid: dave.kid, agree: nodeSuite.agreement(dave.secrets.agreement) }, parts.parts, (more) => externalAad(outer, more)) : undefined;
    expect(stolen).toMatchObject({ ok: false, failure: 'not-recipient' });
    // Nor can he by claiming to be alice: her kid names an entry his key does not open.
    const posing = parts.ok ? open(nodeSuite, { kid: alice.kid, agree: nodeSuite.agreement(dave.secrets.agreement) }, parts.parts, (more) => externalAad(outer, more)) : undefined;
    expect(posing).toMatchObject({ ok: false, failure: 'unauthentic' });
  });

  it('stays plain for a subscriber that presented no identity (as in part 1), over compact CBOR too', async () => {
    const gateway = sealedGateway(gatewayIdentity, { anonymous: 'read' });
    // An engine with no stages stands for an old client; mallory's presents its identity.
    const old = new Engine();
    const presenting = sealedClient(mallory, { trusted: [gatewayIdentity] });
    const [oldToG] = wire(old, gateway.engine, 'old', 'cbor');
    const [toG] = wire(presenting.engine, gateway.engine, 'mallory', 'cbor');
    const seen: unknown[] = [];
    old.bind({ method: 'PATCH', resource: VAULT }, (incoming) => {
      seen.push(incoming.body);
    });
    presenting.engine.bind({ method: 'PATCH', resource: VAULT }, (incoming) => {
      seen.push(incoming.body);
    });
    // anonymous: read lets both BINDs in.
    await old.peer(oldToG).bind({ method: 'PATCH', resource: VAULT }).all();
    await presenting.engine.peer(toG).bind({ method: 'PATCH', resource: VAULT }).all();
    gateway.engine.emit('PATCH', VAULT, { value: 1 });
    await tick(50);
    expect(seen).toEqual([{ value: 1 }, { value: 1 }]);
    expect(oldToG.other.dispatches.filter((d) => d.method === 'PATCH').map((d) => d[SEALED_HEADER])).toEqual([undefined]);
    const sealed = toG.other.dispatches.filter((d) => d.method === 'PATCH');
    expect(sealed).toHaveLength(1);
    expect(sealed[0]![SEALED_HEADER]).toEqual(expect.any(String));
    expect(sealed[0]!.body).toBeUndefined();
  });
});

describe('the sealed-resource mode and relays', () => {
  it('an emit to one known recipient hides its resource too; the gateway opens it and fans it out sealed', async () => {
    const gateway = sealedGateway(gatewayIdentity);
    const seenAtGateway: Dispatch[] = [];
    gateway.engine.bind({ method: 'PATCH', resource: ['devices', '...'] }, (incoming) => {
      seenAtGateway.push(incoming.dispatch);
    });
    const device = sealedClient(owner, { to: toGateway, resources: 'full' });
    const [toG] = wire(device.engine, gateway.engine, 'device');
    device.engine.peer(toG).emit('PATCH', VAULT, { value: SECRET });
    await tick(30);
    expect(seenAtGateway.map((d) => [d.resource, d.body])).toEqual([[VAULT, { value: SECRET }]]);
    const sent = toG.dispatches.find((d) => d[SEALED_HEADER] !== undefined)!;
    expect(sent).toMatchObject({ method: 'POST', resource: ['sealed'], timestamp: 0 });
    expect(JSON.stringify(sent)).not.toContain('vault');
  });

  it('a relay passes a sealed request on untouched but for host and token; told not to, it answers 506', async () => {
    const target = vaultGateway();
    const relay = sealedGateway(otherGateway);
    const [relayToTarget] = wire(relay.engine, target.engine, 'relay');
    relay.engine.setForwarder(() => relayToTarget);
    const client = sealedClient(owner, { to: toGateway, trusted: [gatewayIdentity] });
    const [toRelay] = wire(client.engine, relay.engine, 'owner');
    const hop: [string, number, string] = ['target.example', 1, 'tcp'];
    const answers = await client.engine.peer(toRelay).request('PUT', VAULT, { value: SECRET }, { host: [hop] }).all();
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(target.reached).toHaveLength(1);
    const arrived = toRelay.dispatches.find((d) => d[SEALED_HEADER] !== undefined)!;
    const passed = relayToTarget.dispatches.find((d) => d[SEALED_HEADER] !== undefined)!;
    expect(passed[SEALED_HEADER]).toBe(arrived[SEALED_HEADER]);
    expect(passed.host).toBeUndefined();
    expect(relay.sealing.stats()).toMatchObject({ relayed: 1, opened: 0 });

    const strict = sealedGateway(otherGateway, { relay: false });
    strict.engine.setForwarder(() => relayToTarget);
    // A client that trusts anyone's answers: the 506 is the relay's own, signed by the relay.
    const trusting = sealedClient(owner, { to: toGateway });
    const [toStrict] = wire(trusting.engine, strict.engine, 'strict');
    const refused = await trusting.engine.peer(toStrict).request('GET', VAULT, undefined, { host: [hop] }).all();
    expect(refused.map(statusAndCode)).toEqual([[506, 'PASARELA_FORWARDING']]);
  });
});

describe('identity documents', () => {
  it('verify with the identity\'s own key, and nothing else does', () => {
    const document = identityDocument(alice, 1_767_225_600_000);
    expect(verifyIdentityDocument(nodeSuite, document)).toMatchObject({ id: alice.id, kidHex: alice.kidHex, issuedAt: 1_767_225_600 });
    expect(Buffer.from(verifyIdentityDocument(nodeSuite, document).agreementKey)).toEqual(Buffer.from(alice.agreementKey));
    const bytes = fromBase64url(document)!;
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i]! ^= 0x04;
      try {
        verifyIdentityDocument(nodeSuite, base64url(changed));
      } catch {
        refused++;
      }
    }
    expect(refused).toBe(bytes.length);
  });
});

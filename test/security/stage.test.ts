/**
 * The security stage on a real engine with recording channels: who gets 401 and who
 * 403, grants presented once per connection, deliveries filtered by the grants
 * behind a BIND (observing and serving apart), answers signed by the gateway and
 * bound to their request, refusals counted and logged without the body.
 */
import { describe, expect, it } from 'vitest';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';
import { capability, presetCapabilities } from '../../gateway/security/capabilities.js';
import { readSignature, verifyDispatch } from '../../gateway/security/dispatch-signature.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { createPolicy } from '../../gateway/security/policy.js';
import { memoryReplayStore, ReplayGuard } from '../../gateway/security/replay.js';
import { SecurityStage } from '../../gateway/security/security-stage.js';
import { recordingLogger, stageContract } from '../support/stage-contract.js';
import { alice, answersTo, bindDispatch, bob, chainText, gatewayIdentity, grantTo, mallory, owner, request, securedEngine, send, settle, signed, signerFor } from './helpers.js';

stageContract('security (anonymous: full, no identity)', {
  make: () => new SecurityStage({ suite: nodeSuite, policy: createPolicy(nodeSuite, [owner.id], 'full'), replay: new ReplayGuard(memoryReplayStore()) }),
  outcome: { kind: 'pass' },
});

function serve(rig: ReturnType<typeof securedEngine>): void {
  rig.engine.bind({ method: '*', resource: ['devices', '...'] }, () => 'served');
  rig.engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({ name: 'pasarela' }));
}

async function status(rig: ReturnType<typeof securedEngine>, from: string, dispatch: Dispatch): Promise<{ status: number; code?: string }> {
  send(rig, from, dispatch);
  await settle();
  const [answer] = answersTo(rig.channel(from), dispatch);
  if (!answer) throw new Error('no answer');
  return { status: answer.status, ...((answer.body as { code?: string } | undefined)?.code ? { code: (answer.body as { code: string }).code } : {}) };
}

describe('who may do what', () => {
  it('anonymous none: discovery only; everything else is 401 PASARELA_UNSIGNED', async () => {
    const rig = securedEngine({ anonymous: 'none' });
    serve(rig);
    expect(await status(rig, 'c', request('GET', ['gateway']))).toEqual({ status: 200 });
    expect(await status(rig, 'c', request('GET', ['devices', 'coffee']))).toEqual({ status: 401, code: 'PASARELA_UNSIGNED' });
    expect(await status(rig, 'c', bindDispatch('PATCH', ['devices', '...']))).toEqual({ status: 401, code: 'PASARELA_UNSIGNED' });
  });

  it('anonymous read: reads pass unsigned, writes are 401', async () => {
    const rig = securedEngine({ anonymous: 'read' });
    serve(rig);
    expect(await status(rig, 'c', request('GET', ['devices', 'coffee']))).toEqual({ status: 200 });
    expect(await status(rig, 'c', request('PUT', ['devices', 'coffee', 'properties', 'keepWarm'], true))).toEqual({ status: 401, code: 'PASARELA_UNSIGNED' });
    expect(await status(rig, 'c', bindDispatch('PATCH', ['devices', '...']))).toEqual({ status: 200 });
  });

  it('an owner may do everything, with no grant', async () => {
    const rig = securedEngine();
    serve(rig);
    const signer = signerFor(owner);
    expect(await status(rig, 'c', signed(signer, request('DELETE', ['devices', 'coffee'])))).toEqual({ status: 200 });
  });

  it('a signer with no grant: what anonymous may do, else 403 PASARELA_NO_GRANT', async () => {
    const rig = securedEngine();
    serve(rig);
    const signer = signerFor(alice);
    expect(await status(rig, 'c', signed(signer, request('GET', ['gateway'])))).toEqual({ status: 200 });
    expect(await status(rig, 'c', signed(signer, request('GET', ['devices'])))).toEqual({ status: 403, code: 'PASARELA_NO_GRANT' });
  });

  it('a grant is presented once per connection: later dispatches on it need not carry it, others must', async () => {
    const rig = securedEngine();
    serve(rig);
    const signer = signerFor(alice);
    const grant = chainText(grantTo(alice, presetCapabilities('read', ['coffee'])));
    expect(await status(rig, 'one', signed(signer, request('GET', ['devices', 'coffee']), grant))).toEqual({ status: 200 });
    expect(await status(rig, 'one', signed(signer, request('GET', ['devices', 'coffee', 'properties', 'water'])))).toEqual({ status: 200 });
    expect(await status(rig, 'one', signed(signer, request('GET', ['devices', 'rover'])))).toEqual({ status: 403, code: 'PASARELA_NOT_GRANTED' });
    expect(await status(rig, 'one', signed(signer, request('PUT', ['devices', 'coffee', 'properties', 'keepWarm'], true)))).toEqual({ status: 403, code: 'PASARELA_NOT_GRANTED' });
    expect(await status(rig, 'two', signed(signer, request('GET', ['devices', 'coffee'])))).toEqual({ status: 403, code: 'PASARELA_NO_GRANT' });
    // Verified once on that connection, however often it comes again.
    for (let i = 0; i < 3; i++) await status(rig, 'one', signed(signer, request('GET', ['devices', 'coffee']), grant));
    expect(rig.stage.stats().chains).toBe(1);
  });

  it('somebody else\'s grant does not help: the signature must be its holder\'s', async () => {
    const rig = securedEngine();
    serve(rig);
    const alicesGrant = chainText(grantTo(alice, presetCapabilities('admin')));
    expect(await status(rig, 'c', signed(signerFor(mallory), request('GET', ['devices']), alicesGrant))).toEqual({ status: 403, code: 'PASARELA_NO_GRANT' });
    // Mallory's dispatch under Alice's kid: the signature does not verify.
    const forged = signed(signerFor(mallory), request('GET', ['devices']));
    const withAlicesKid = { ...forged, sig: signed(signerFor(alice), request('GET', ['x'])).sig };
    expect(await status(rig, 'c', { ...withAlicesKid, grant: alicesGrant })).toEqual({ status: 401, code: 'PASARELA_BAD_SIGNATURE' });
  });

  it('a forged, widened or foreign-rooted grant is 403 PASARELA_BAD_GRANT; an expired one PASARELA_GRANT_EXPIRED', async () => {
    const rig = securedEngine();
    serve(rig);
    const signer = signerFor(alice);
    const foreign = chainText(grantTo(alice, presetCapabilities('admin'), { issuer: mallory }));
    expect(await status(rig, 'a', signed(signer, request('GET', ['devices']), foreign))).toEqual({ status: 403, code: 'PASARELA_BAD_GRANT' });
    const root = grantTo(bob, presetCapabilities('read'));
    const widened = chainText(root, grantTo(alice, presetCapabilities('operate'), { issuer: bob, parent: root }));
    expect(await status(rig, 'b', signed(signer, request('GET', ['devices']), widened))).toEqual({ status: 403, code: 'PASARELA_BAD_GRANT' });
    const now = Math.floor(Date.now() / 1000);
    const expired = chainText(grantTo(alice, presetCapabilities('read'), { notBefore: now - 100, expires: now - 10 }));
    expect(await status(rig, 'c', signed(signer, request('GET', ['devices']), expired))).toEqual({ status: 403, code: 'PASARELA_GRANT_EXPIRED' });
  });

  it('a replay and a tampered dispatch are 401; a first contact off the clock too', async () => {
    const rig = securedEngine();
    serve(rig);
    const signer = signerFor(owner);
    const once = signed(signer, request('GET', ['devices']));
    expect(await status(rig, 'c', once)).toEqual({ status: 200 });
    // The same bytes again, with a fresh transaction id (engines rewrite tokens).
    expect(await status(rig, 'c', { ...once, token: ['11111111-1111-4111-8111-111111111111'] })).toEqual({ status: 401, code: 'PASARELA_REPLAY' });
    const tampered = { ...signed(signer, request('GET', ['devices'])), resource: ['devices', 'rover'] };
    expect(await status(rig, 'c', tampered)).toEqual({ status: 401, code: 'PASARELA_BAD_SIGNATURE' });
    const late = securedEngine({ now: () => Date.now() + 10 * 60_000 });
    serve(late);
    expect(await status(late, 'c', signed(signerFor(owner), request('GET', ['devices'])))).toEqual({ status: 401, code: 'PASARELA_CLOCK' });
  });
});

describe('deliveries', () => {
  async function bound(rig: ReturnType<typeof securedEngine>, name: string, preset: Parameters<typeof presetCapabilities>[0], devices: string[] | undefined, endpoint: [string, string[]]) {
    const identity = name === 'alice' ? alice : bob;
    const signer = signerFor(identity);
    const grant = chainText(grantTo(identity, presetCapabilities(preset, devices)));
    expect(await status(rig, name, signed(signer, bindDispatch(endpoint[0], endpoint[1]), grant))).toEqual({ status: 200 });
  }

  it('a subscriber receives only what its grant covers', async () => {
    const rig = securedEngine();
    await bound(rig, 'alice', 'read', ['coffee'], ['PATCH', ['devices', '...']]);
    await bound(rig, 'bob', 'read', undefined, ['PATCH', ['devices', '...']]);
    rig.engine.emit('PATCH', ['devices', 'coffee', 'properties', 'water'], { value: 80 });
    rig.engine.emit('PATCH', ['devices', 'rover', 'properties', 'pose'], { value: 1 });
    await settle();
    const patches = (name: string) => rig.channel(name).sent.filter((d) => d.method === 'PATCH').map((d) => d.resource![1]);
    expect(patches('alice')).toEqual(['coffee']);
    expect(patches('bob')).toEqual(['coffee', 'rover']);
    expect(rig.stage.stats().filtered).toBe(1);
  });

  it('a subscriber still hears the refusal of its own request at once', async () => {
    const rig = securedEngine();
    await bound(rig, 'alice', 'read', undefined, ['PATCH', ['devices', '...']]);
    const signer = signerFor(alice, 40_960);
    expect(await status(rig, 'alice', signed(signer, request('PUT', ['devices', 'coffee', 'properties', 'keepWarm'], true)))).toEqual({ status: 403, code: 'PASARELA_NOT_GRANTED' });
    expect(await status(rig, 'alice', request('DELETE', ['devices', 'coffee']))).toEqual({ status: 401, code: 'PASARELA_UNSIGNED' });
  });

  it("another subscriber's BIND reaches only an observer allowed to see BINDs", async () => {
    const rig = securedEngine();
    await bound(rig, 'alice', 'read', undefined, ['*', ['...']]);
    await bound(rig, 'bob', 'admin', undefined, ['*', ['...']]);
    send(rig, 'carol', signed(signerFor(owner), bindDispatch('PATCH', ['devices', 'x'])));
    await settle();
    const binds = (name: string) => rig.channel(name).sent.filter((d) => d.method === 'BIND').length;
    expect(binds('alice')).toBe(0);
    // Bob saw Alice's BIND? No: it came before his. He sees Carol's.
    expect(binds('bob')).toBe(1);
  });

  it('a BIND nothing could ever reach is refused; one that reaches a part is taken', async () => {
    const rig = securedEngine();
    const signer = signerFor(alice);
    const grant = chainText(grantTo(alice, presetCapabilities('read', ['coffee'])));
    expect(await status(rig, 'alice', signed(signer, bindDispatch('PATCH', ['devices', 'rover', '...']), grant))).toEqual({ status: 403, code: 'PASARELA_NOT_GRANTED' });
    expect(await status(rig, 'alice', signed(signer, bindDispatch('PUT', ['devices', '...'])))).toEqual({ status: 403, code: 'PASARELA_NOT_GRANTED' });
    expect(await status(rig, 'alice', signed(signer, bindDispatch('*', ['...'])))).toEqual({ status: 200 });
  });

  it('observing is not serving: a request reaches only a subscriber that may serve it', async () => {
    const rig = securedEngine();
    await bound(rig, 'alice', 'operate', undefined, ['POST', ['devices', 'lamp', '...']]);
    await bound(rig, 'bob', 'serve', ['lamp'], ['POST', ['devices', 'lamp', '...']]);
    // A request (with a transaction): to the server only.
    const reply = rig.engine.request('POST', ['devices', 'lamp', 'actions', 'on']);
    // An event (no transaction): to both.
    rig.engine.emit('POST', ['devices', 'lamp', 'events', 'switched']);
    await settle();
    const posts = (name: string) => rig.channel(name).sent.filter((d) => d.method === 'POST').map((d) => `${String(d.resource![2])}${d.token?.length === 2 ? ' (request)' : ''}`);
    expect(posts('alice')).toEqual(['events']);
    // The serve preset acts as the device: it answers requests, it does not observe.
    expect(posts('bob')).toEqual(['actions (request)']);
    const delivered = rig.channel('bob').sent.find((d) => d.method === 'POST' && d.token?.length === 2)!;
    // The gateway signed the request; bob's answer is bound to it (external_aad), or it is dropped.
    const requestSig = readSignature(delivered.sig);
    if (!requestSig.ok) throw new Error('the request was not signed');
    const answer: Dispatch = { protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: [200, delivered.token![0], delivered.token![1]!], timestamp: Date.now(), body: 'on' };
    const bobs = signerFor(bob, 12_288);
    send(rig, 'bob', bobs.sign(answer, undefined).dispatch);
    await settle();
    send(rig, 'bob', bobs.sign({ ...answer, body: 'on, bound' }, requestSig.signature.protectedBytes).dispatch);
    expect((await reply.all()).map((a) => [a.status, a.body])).toEqual([[200, 'on, bound']]);
  });
});

describe('what the gateway signs', () => {
  it('its answers, bound to the signed request they answer; its own PATCHes once for every subscriber', async () => {
    const rig = securedEngine();
    serve(rig);
    const signer = signerFor(owner);
    const asked = signed(signer, request('GET', ['gateway']));
    send(rig, 'c', asked);
    await settle();
    const answer = rig.channel('c').sent.find((d) => d.method === 'ANSWER' && d.resource![0] === 200)!;
    const reading = readSignature(answer.sig);
    expect(reading.ok).toBe(true);
    if (!reading.ok) return;
    expect(reading.signature.kidHex).toBe(gatewayIdentity.kidHex);
    const requestProtected = readSignature(asked.sig);
    if (!requestProtected.ok) throw new Error('unsigned request');
    const verify = nodeSuite.verifier(gatewayIdentity.signingKey);
    expect(verifyDispatch(verify, answer, reading.signature, requestProtected.signature.protectedBytes)).toBe(true);
    expect(verifyDispatch(verify, answer, reading.signature)).toBe(false);

    // Two subscribers, one signature.
    for (const name of ['x', 'y']) send(rig, name, signed(signer, bindDispatch('PATCH', ['devices', '...'])));
    await settle();
    const before = rig.stage.stats().signed;
    rig.engine.emit('PATCH', ['devices', 'coffee', 'properties', 'water'], { value: 1 });
    await settle();
    const [px, py] = ['x', 'y'].map((name) => rig.channel(name).sent.find((d) => d.method === 'PATCH')!);
    expect(px!.sig).toBe(py!.sig);
    expect(rig.stage.stats().signed - before).toBe(1);
  });

  it('never re-signs what it relays', async () => {
    const rig = securedEngine({ anonymous: 'full' });
    send(rig, 'sub', bindDispatch('PATCH', ['devices', '...']));
    await settle();
    const from = signed(signerFor(owner), { ...request('PATCH', ['devices', 'd'], 1), token: undefined });
    send(rig, 'pub', from);
    send(rig, 'pub', { ...request('PATCH', ['devices', 'e'], 2), token: undefined });
    await settle();
    const patches = rig.channel('sub').sent.filter((d) => d.method === 'PATCH');
    expect(patches.map((d) => d.sig)).toEqual([from.sig, undefined]);
  });
});

describe('refusals', () => {
  it('are counted by code and by signer, and logged without the body', async () => {
    const logger = recordingLogger();
    const lines = logger.warnings;
    const rig = securedEngine({ logger });
    const stage = rig.stage;
    const secret = 'the-body-is-never-logged';
    for (let i = 0; i < 5; i++) send(rig, 'c', request('PUT', ['devices', 'coffee'], { secret }));
    send(rig, 'c', signed(signerFor(alice), request('PUT', ['devices', 'coffee'], { secret })));
    await settle();
    expect(stage.stats().refused).toEqual({ PASARELA_UNSIGNED: 5, PASARELA_NO_GRANT: 1 });
    expect(stage.stats().refusedBy).toEqual({ unsigned: 5, [alice.kidHex]: 1 });
    // Once per signer and code in 10 s, not once per dispatch.
    expect(lines).toHaveLength(2);
    expect(JSON.stringify(lines)).not.toContain(secret);
    expect(lines[0]).toMatchObject({ code: 'PASARELA_UNSIGNED', status: 401, signer: 'unsigned', method: 'PUT', resource: ['devices', 'coffee'] });
  });

  it('a refused capability of a send is named', () => {
    expect(capability('send', 'GET', ['devices']).pattern).toEqual(['devices']);
  });
});

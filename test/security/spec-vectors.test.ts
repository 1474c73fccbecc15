/**
 * docs/spec/security.md's test vectors are what the code computes, and the vectors
 * hold up on their own: the signatures verify with the keys given, the CBOR form
 * reads back to the JSON form, and the sizes the spec states are the sizes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { decodeChain, verifyChain } from '../../gateway/security/grant.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { GATEWAY, PHONE, recipientOf, SENSOR, vectors } from './spec-vectors.js';
import { createDispatch, validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { base64url, fromBase64url, fromHex, toHex } from '../../gateway/security/bytes.js';
import { readSignature, signDispatch, verifyDispatch } from '../../gateway/security/dispatch-signature.js';
import { verifyIdentityDocument } from '../../gateway/security/identity-document.js';
import { open, openAnswer, readSealed, seal } from '../../gateway/security/seal.js';
import { externalAad, mergeOpened, splitForSealing } from '../../gateway/security/sealed-dispatch.js';

const SPEC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'spec', 'security.md'), 'utf8');

function written(): Map<string, string> {
  const block = /```vectors\n([\s\S]*?)\n```/.exec(SPEC)?.[1];
  if (!block) throw new Error('no vectors block in the spec');
  const out = new Map<string, string>();
  let name: string | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith('  ')) out.set(name!, (out.get(name!) ?? '') + line.slice(2));
    else {
      name = line.replace(/:$/, '');
      out.set(name, '');
    }
  }
  return out;
}

describe('the spec\'s test vectors', () => {
  const spec = written();

  it('are exactly what the code computes', () => {
    expect([...spec.entries()]).toEqual(vectors());
  });

  it('verify on their own, with both signature suites', () => {
    const json = JSON.parse(spec.get('patch.json')!) as Record<string, unknown>;
    const validated = validateDispatch(json);
    if (!validated.ok) throw new Error(validated.reason);
    const reading = readSignature(spec.get('patch.sig'));
    if (!reading.ok) throw new Error(reading.reason);
    for (const suite of [nodeSuite, nobleSuite]) {
      expect(suite.verifier(fromHex(spec.get('sensor.ed25519.public')!))(fromHex(spec.get('patch.to-be-signed')!), reading.signature.signature)).toBe(true);
      expect(verifyDispatch(suite.verifier(SENSOR.signingKey), validated.dispatch, reading.signature)).toBe(true);
    }
    expect(reading.signature.sequence).toBe(1234);
    // The CBOR form is the JSON form.
    expect(decodeDispatch(fromHex(spec.get('patch.cbor')!))).toEqual({ ...json, token: undefined });
    // The answer verifies with the request's protected header as external_aad, and only so.
    const answer = readSignature(spec.get('answer.sig'));
    if (!answer.ok) throw new Error(answer.reason);
    const verify = nodeSuite.verifier(fromHex(spec.get('gateway.ed25519.public')!));
    expect(verify(fromHex(spec.get('answer.to-be-signed')!), answer.signature.signature)).toBe(true);
    // The grant verifies with the sensor as an owner.
    const chain = verifyChain(nodeSuite, decodeChain(spec.get('grant.chain')!).grants, new Set([SENSOR.id]));
    expect(chain.holder.id).toBe(GATEWAY.id);
    expect(chain.expires).toBe(1767830400);
    expect(Buffer.from(fromBase64url(spec.get('grant.chain')!)!).toString('hex')).toBe(`81${spec.get('grant.cose-sign1')!}`);
  });

  it('the sizes the spec states are the sizes', () => {
    const added = (spec.get('patch.cbor')!.length - spec.get('patch.cbor-unsigned')!.length) / 2;
    expect(added).toBe(88);
    expect(SPEC).toContain('grows by 88 bytes');
    const json = spec.get('patch.json')!;
    expect(json.length - JSON.stringify({ ...JSON.parse(json), sig: undefined }).length).toBe(125);
    expect(SPEC).toContain('by 125 characters');
  });

  it('the sealing vectors open on their own, with both suites, and only for their recipients', () => {
    expect(verifyIdentityDocument(nodeSuite, spec.get('gateway.identity-document')).id).toBe(GATEWAY.id);
    const request = JSON.parse(spec.get('seal.json')!) as Dispatch;
    const sealedParts = readSealed(fromBase64url(request.sealed as string)!);
    if (!sealedParts.ok) throw new Error(sealedParts.reason);
    expect(toHex(fromBase64url(request.sealed as string)!)).toBe(spec.get('seal.sealed'));
    for (const suite of [nodeSuite, nobleSuite]) {
      expect(toHex(suite.agreement(GATEWAY.secrets.agreement)(fromHex(spec.get('seal.ephemeral.public')!)))).toBe(spec.get('seal.shared-secret'));
      expect(toHex(suite.hkdf(fromHex(spec.get('seal.shared-secret')!), new Uint8Array(0), fromHex(spec.get('seal.kdf-context')!), 16))).toBe(spec.get('seal.content-key'));
      const opened = open(suite, { kid: GATEWAY.kid, agree: suite.agreement(GATEWAY.secrets.agreement) }, sealedParts.parts, (more) => externalAad(request, more), true);
      if (!opened.ok) throw new Error(opened.reason);
      expect(toHex(opened.plaintext)).toBe(spec.get('seal.plaintext'));
      expect(toHex(suite.aesGcmOpen(fromHex(spec.get('seal.content-key')!), new Uint8Array(12), fromHex(spec.get('seal.enc-structure')!), sealedParts.parts.ciphertext)!)).toBe(spec.get('seal.plaintext'));
      // Inside: the sensor's PUT, whose signature verifies.
      const merged = mergeOpened(request, opened.plaintext);
      if (!merged.ok) throw new Error(merged.reason);
      expect(merged.dispatch).toMatchObject({ method: 'PUT', resource: ['devices', 'vault', 'properties', 'code'], body: { value: '4711' } });
      const reading = readSignature(merged.dispatch.sig);
      expect(reading.ok && verifyDispatch(suite.verifier(SENSOR.signingKey), merged.dispatch, reading.signature)).toBe(true);
      // The answer opens with the answer keys both ends derive.
      expect(toHex(opened.answerKeys!.key)).toBe(spec.get('seal.answer-key'));
      const answer = JSON.parse(spec.get('seal.answer.json')!) as Dispatch;
      const answerParts = readSealed(fromBase64url(answer.sealed as string)!);
      if (!answerParts.ok) throw new Error(answerParts.reason);
      const answered = openAnswer(suite, opened.answerKeys!, answerParts.parts, externalAad(answer));
      expect(answered.ok && toHex(answered.plaintext)).toBe(spec.get('seal.answer.plaintext'));
      // The fan-out opens for the sensor and the phone, and for nobody else.
      const fanout = decodeDispatch(fromHex(spec.get('fanout.cbor')!)) as unknown as Dispatch;
      const fanParts = readSealed(fromBase64url(fanout.sealed as string)!);
      if (!fanParts.ok) throw new Error(fanParts.reason);
      for (const [who, ok] of [[SENSOR, true], [PHONE, true], [GATEWAY, false]] as const) {
        const result = open(suite, { kid: who.kid, agree: suite.agreement(who.secrets.agreement) }, fanParts.parts, (more) => externalAad(fanout, more));
        expect(result.ok && toHex(result.plaintext)).toBe(ok ? spec.get('fanout.plaintext') : false);
      }
    }
  });

  it('the sealing sizes the spec states are the sizes', () => {
    const patch = createDispatch('PATCH', ['devices', 'living-room', 'properties', 'temperature'], { body: { value: 21.5, at: 1767225600000 }, timestamp: 1767225600123 });
    const signed = { ...patch, sig: signDispatch(SENSOR, patch, 1234).sig };
    const split = splitForSealing(signed, 'visible');
    const sizes = [1, 2, 3].map((n) => {
      const sealed = seal(nodeSuite, [GATEWAY, PHONE, SENSOR].slice(0, n).map(recipientOf), split.plaintext, (more) => externalAad(split.outer, more));
      return encodeDispatch({ ...split.outer, sealed: base64url(sealed.bytes) }).length - encodeDispatch(patch).length;
    });
    expect(sizes[0]).toBe(159);
    expect(SPEC).toContain('grows\nby 159 bytes');
    expect([sizes[1]! - sizes[0]!, sizes[2]! - sizes[1]!].every((extra) => extra === 36 || extra === 37)).toBe(true);
    expect(SPEC).toContain('adds 36 or 37 bytes');
  });
});

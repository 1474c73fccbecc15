/**
 * docs/spec/security.md's test vectors are what the code computes, and the vectors
 * hold up on their own: the signatures verify with the keys given, the CBOR form
 * reads back to the JSON form, and the sizes the spec states are the sizes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { validateDispatch } from '../../gateway/jstp/dispatch.js';
import { fromBase64url, fromHex } from '../../gateway/security/bytes.js';
import { readSignature, verifyDispatch } from '../../gateway/security/dispatch-signature.js';
import { decodeChain, verifyChain } from '../../gateway/security/grant.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { GATEWAY, SENSOR, vectors } from './spec-vectors.js';

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
});

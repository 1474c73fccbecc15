/**
 * The COSE working group's examples (test/fixtures/cose-examples/) through our
 * COSE_Sign1 reader and Sig_structure: each pass example's ToBeSign bytes are
 * reproduced and its signature verifies (ES256 and Ed448 with node:crypto, Ed25519
 * with both suites); each failure example is refused; and our writer produces
 * eddsa-sig-01 byte for byte.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { base64url, fromHex, toHex, utf8Bytes } from '../../gateway/security/bytes.js';
import type { CborItem } from '../../gateway/security/cbor-item.js';
import { Alg, decodeSign1, encodeProtected, encodeSign1, Header, headerValue, sigStructure1, type Sign1 } from '../../gateway/security/cose.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'cose-examples');

interface Example {
  title: string;
  fail?: boolean;
  input: {
    plaintext: string;
    sign0: { key: Record<string, string>; external?: string };
    failures?: Record<string, unknown>;
  };
  intermediates: { ToBeSign_hex: string };
  output: { cbor: string };
}

function load(path: string): Example {
  return JSON.parse(readFileSync(join(DIR, path), 'utf8')) as Example;
}

const examples = [
  ...readdirSync(join(DIR, 'sign1-tests')).map((name) => `sign1-tests/${name}`),
  'eddsa-examples/eddsa-sig-01.json',
  'eddsa-examples/eddsa-sig-02.json',
];

/** Verifies with the key of the example, for the algorithm its header names; false for an unknown one. */
function verifyExample(example: Example, sign1: Sign1, toBeSigned: Uint8Array): boolean {
  const key = example.input.sign0.key;
  const alg = headerValue(sign1, Header.Alg);
  if (alg === Alg.ES256 && key.kty === 'EC') {
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: key.crv!, x: key.x!, y: key.y! }, format: 'jwk' });
    return nodeVerify('sha256', toBeSigned, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sign1.signature);
  }
  if (alg === Alg.EdDSA && key.crv === 'Ed25519') {
    const x = fromHex(key.x_hex!);
    const a = nodeSuite.verifier(x)(toBeSigned, sign1.signature);
    expect(nobleSuite.verifier(x)(toBeSigned, sign1.signature)).toBe(a);
    return a;
  }
  if (alg === Alg.EdDSA && key.crv === 'Ed448') {
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed448', x: base64url(fromHex(key.x_hex!)) }, format: 'jwk' });
    return nodeVerify(null, toBeSigned, publicKey, sign1.signature);
  }
  return false;
}

describe('the COSE examples (cose-wg/Examples)', () => {
  it.each(examples)('%s', (path) => {
    const example = load(path);
    const bytes = fromHex(example.output.cbor);
    let sign1: Sign1;
    try {
      sign1 = decodeSign1(bytes);
    } catch (error) {
      // Refused by the reader (a tag that is not COSE_Sign1): only a failure example may be.
      expect(example.fail, `${example.title}: ${(error as Error).message}`).toBe(true);
      return;
    }
    const external = fromHex(example.input.sign0.external ?? '');
    const toBeSigned = sigStructure1(sign1.protectedBytes, external, sign1.payload ?? utf8Bytes(example.input.plaintext));
    const verified = verifyExample(example, sign1, toBeSigned);
    if (example.fail) {
      expect(verified, example.title).toBe(false);
    } else {
      expect(toHex(toBeSigned)).toBe(example.intermediates.ToBeSign_hex.toLowerCase());
      expect(verified, example.title).toBe(true);
      expect(new TextDecoder().decode(sign1.payload!)).toBe(example.input.plaintext);
    }
  });

  it('covers passes and failures alike', () => {
    const kinds = examples.map((path) => (load(path).fail ? 'fail' : 'pass'));
    expect(kinds.filter((k) => k === 'fail').length).toBeGreaterThanOrEqual(6);
    expect(kinds.filter((k) => k === 'pass').length).toBeGreaterThanOrEqual(5);
  });

  it('writes eddsa-sig-01 byte for byte (Ed25519 signing is deterministic)', () => {
    const example = load('eddsa-examples/eddsa-sig-01.json');
    const secret = fromHex(example.input.sign0.key.d_hex!);
    // {alg: EdDSA, content type: 0} protected; {kid: '11'} unprotected.
    const protectedBytes = encodeProtected(new Map<number, CborItem>([[Header.Alg, Alg.EdDSA], [Header.ContentType, 0]]));
    const payload = utf8Bytes(example.input.plaintext);
    const toBeSigned = sigStructure1(protectedBytes, new Uint8Array(0), payload);
    expect(toHex(toBeSigned)).toBe(example.intermediates.ToBeSign_hex.toLowerCase());
    for (const suite of [nodeSuite, nobleSuite]) {
      const signature = suite.signer(secret)(toBeSigned);
      const written = encodeSign1({ protectedBytes, unprotectedHeader: new Map([[Header.Kid, utf8Bytes('11')]]), payload, signature }, true);
      expect(toHex(written)).toBe(example.output.cbor.toLowerCase());
    }
  });

  it('refuses what the strict reader must: trailing bytes, indefinite lengths, unsorted maps, a label in both headers', () => {
    const good = fromHex(load('eddsa-examples/eddsa-sig-01.json').output.cbor);
    expect(() => decodeSign1(Uint8Array.from([...good, 0]))).toThrow(/after the item/);
    expect(() => decodeSign1(fromHex('d2 9f 40 a0 f6 40 ff'))).toThrow(/indefinite/);
    // Unprotected map {4: h'', 1: -8}: keys out of order.
    expect(() => decodeSign1(fromHex('84 40 a2 04 40 01 27 f6 40'))).toThrow(/order/);
    // alg in the protected header ({1: -8}) and again unprotected.
    expect(() => decodeSign1(fromHex('84 43 a10127 a1 01 27 f6 40'))).toThrow(/both protected and unprotected/);
    // An integer written in a longer head than needed.
    expect(() => decodeSign1(fromHex('84 40 a1 18 04 40 f6 40'))).toThrow(/longer than needed/);
    expect(() => decodeSign1(fromHex('d2 83 40 a0 f6'))).toThrow(/array of 4/);
    expect(() => decodeSign1(good, { tag: 'forbidden' })).toThrow(/untagged/);
  });
});

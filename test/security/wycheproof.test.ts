/**
 * Project Wycheproof's Ed25519 vectors (test/fixtures/wycheproof/) against both
 * signature suites: node:crypto (the gateway, the command) and @noble/curves (the
 * dashboard). Every valid signature verifies; every invalid one (malleable, truncated,
 * non-canonical, edge-case points) is refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../gateway/security/bytes.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';

interface Vector {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}

const file = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'wycheproof', 'ed25519_test.json'), 'utf8')) as {
  numberOfTests: number;
  testGroups: { publicKey: { pk: string }; tests: Vector[] }[];
};

describe.each([nodeSuite, nobleSuite])('Wycheproof Ed25519 with $name', (suite) => {
  it('verifies every valid vector and refuses every invalid one', () => {
    const outcomes = { valid: 0, invalid: 0 };
    const wrong: string[] = [];
    for (const group of file.testGroups) {
      const verify = suite.verifier(fromHex(group.publicKey.pk));
      for (const vector of group.tests) {
        const accepted = verify(fromHex(vector.msg), fromHex(vector.sig));
        if (vector.result === 'acceptable') continue;
        outcomes[vector.result]++;
        if (accepted !== (vector.result === 'valid')) wrong.push(`#${vector.tcId} ${vector.comment} (${vector.flags.join(',')}): got ${accepted}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(outcomes.valid + outcomes.invalid).toBe(file.numberOfTests);
    expect(outcomes.invalid).toBeGreaterThan(50);
  });

  it('signs so that the other suite verifies (and RFC 8032 test 1 comes out exact)', () => {
    // RFC 8032 §7.1, TEST 1: secret, public key and the signature of the empty message.
    const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    expect(Buffer.from(suite.publicKey(secret)).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const signature = suite.signer(secret)(new Uint8Array(0));
    expect(Buffer.from(signature).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    const other = suite === nodeSuite ? nobleSuite : nodeSuite;
    expect(other.verifier(suite.publicKey(secret))(new Uint8Array(0), signature)).toBe(true);
    expect(other.verifier(suite.publicKey(secret))(Uint8Array.of(0), signature)).toBe(false);
  });

  it('refuses signatures of the wrong length without throwing', () => {
    const verify = suite.verifier(suite.publicKey(new Uint8Array(32).fill(9)));
    for (const length of [0, 1, 63, 65, 128]) expect(verify(new Uint8Array(3), new Uint8Array(length))).toBe(false);
    expect(() => suite.verifier(new Uint8Array(31))).toThrow();
  });
});

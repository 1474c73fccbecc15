/**
 * Identity ids (bech32m, BIP 350), kids (RFC 9679 thumbprints, cut to 8 bytes) and
 * the JWK Set of an identity file.
 */
import { describe, expect, it } from 'vitest';
import { bech32mDecode, bech32mEncode } from '../../gateway/security/bech32.js';
import { fromHex, toHex } from '../../gateway/security/bytes.js';
import { Curve, okpThumbprintInput } from '../../gateway/security/cose.js';
import { createIdentity, fromJwkSet, identityId, kidOf, parseIdentityId, toJwkSet } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { fixedIdentity } from './helpers.js';

describe('bech32m (BIP 350)', () => {
  // Valid and invalid strings from BIP 350's test vectors.
  it.each(['A1LQFN3A', 'a1lqfn3a', 'abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx', 'split1checkupstagehandshakeupstreamerranterredcaperredlc445v', '?1v759aa'])('reads %s', (text) => {
    const decoded = bech32mDecode(text);
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(bech32mEncode(decoded.prefix, decoded.bytes)).toBe(text.toLowerCase());
  });

  it.each([
    ['\u00201xj0phk', 'prefix character out of range'],
    ['\u007f1g6xzxy', 'prefix character out of range'],
    ['qyrz8wqd2c9m', 'no separator'],
    ['1qyrz8wqd2c9m', 'empty prefix'],
    ['y1b0jsk6g', 'a data character not in the alphabet'],
    ['lt1igcx5c0', 'a data character not in the alphabet'],
    ['in1muywd', 'too short a checksum'],
    ['mm1crxm3i', 'a checksum character not in the alphabet'],
    ['au1s5cgom', 'a checksum character not in the alphabet'],
    ['M1VUXWEZ', 'a checksum made on the upper-case prefix'],
    ['16plkw9', 'empty prefix'],
    ['1p2gdwpf', 'empty prefix'],
    ['A1LqFN3A', 'mixed case'],
  ])('refuses %j (%s)', (text) => {
    expect(bech32mDecode(text).ok).toBe(false);
  });
});

describe('identity ids and kids', () => {
  const identity = fixedIdentity(1);

  it('the id is pas1 and the key in bech32m, 62 characters, and reads back to the key', () => {
    expect(identity.id).toMatch(/^pas1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/);
    const parsed = parseIdentityId(identity.id);
    expect(parsed.ok && toHex(parsed.signingKey)).toBe(toHex(identity.signingKey));
    expect(parseIdentityId(identity.id.toUpperCase()).ok).toBe(true);
  });

  it('catches any one wrong character, and names what is wrong', () => {
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    for (let i = 4; i < identity.id.length; i++) {
      const replaced = alphabet[(alphabet.indexOf(identity.id[i]!) + 1) % 32]!;
      const wrong = identity.id.slice(0, i) + replaced + identity.id.slice(i + 1);
      const parsed = parseIdentityId(wrong);
      expect(parsed.ok, wrong).toBe(false);
    }
    const other = bech32mEncode('npub', identity.signingKey);
    expect(parseIdentityId(other)).toMatchObject({ ok: false, reason: expect.stringContaining('prefix is "npub"') });
    expect(parseIdentityId(bech32mEncode('pas', new Uint8Array(31)))).toMatchObject({ ok: false, reason: expect.stringContaining('31 bytes') });
  });

  it('the kid is the first 8 bytes of the COSE Key Thumbprint (RFC 9679) of the Ed25519 key', () => {
    const input = okpThumbprintInput(Curve.Ed25519, identity.signingKey);
    // {1: 1, -1: 6, -2: x}, deterministic.
    expect(toHex(input)).toBe(`a30101200621582${'0'}${toHex(identity.signingKey)}`);
    expect(toHex(kidOf(nodeSuite, identity.signingKey))).toBe(toHex(nodeSuite.sha256(input).slice(0, 8)));
    expect(identity.kidHex).toHaveLength(16);
    // RFC 8032's test key 1, as a fixed vector.
    expect(identityId(fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'))).toBe(identityId(nodeSuite.publicKey(fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'))));
  });

  it('a JWK Set holds both key pairs and reads back to the same identity; a doctored one is refused', () => {
    const fresh = createIdentity(nodeSuite);
    const jwks = toJwkSet(fresh);
    expect(jwks.keys.map((k) => k.crv)).toEqual(['Ed25519', 'X25519']);
    const back = fromJwkSet(nodeSuite, JSON.parse(JSON.stringify(jwks)));
    expect(back.id).toBe(fresh.id);
    expect(toHex(back.agreementKey)).toBe(toHex(fresh.agreementKey));
    const doctored = JSON.parse(JSON.stringify(jwks)) as typeof jwks;
    doctored.keys[0]!.x = toJwkSet(fixedIdentity(9)).keys[0]!.x;
    expect(() => fromJwkSet(nodeSuite, doctored)).toThrow(/not the public key of its "d"/);
    expect(() => fromJwkSet(nodeSuite, { keys: [] })).toThrow(/no OKP Ed25519/);
    expect(() => fromJwkSet(nodeSuite, {})).toThrow(/not a JWK Set/);
  });
});

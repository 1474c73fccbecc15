/** The SignatureSuite on node:crypto (Ed25519 and X25519 keys through JWK). */
import crypto from 'node:crypto';
import { base64url } from './bytes.js';
import type { SignatureSuite } from './suite.js';

function privateKey(crv: 'Ed25519' | 'X25519', secret: Uint8Array): crypto.KeyObject {
  if (secret.length !== 32) throw new TypeError(`a ${crv} secret is 32 bytes`);
  // node:crypto derives x from d itself; JWK wants it given, so the public key goes along.
  const d = base64url(secret);
  const seedOnly = crypto.createPrivateKey({ key: pkcs8(crv, secret), format: 'der', type: 'pkcs8' });
  const x = (seedOnly.export({ format: 'jwk' }) as { x: string }).x;
  return crypto.createPrivateKey({ key: { kty: 'OKP', crv, d, x }, format: 'jwk' });
}

/** PKCS #8 for an OKP secret (RFC 8410): a fixed prefix, then the 32 bytes. */
function pkcs8(crv: 'Ed25519' | 'X25519', secret: Uint8Array): Buffer {
  const oid = crv === 'Ed25519' ? 0x70 : 0x6e;
  return Buffer.concat([Buffer.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, oid, 0x04, 0x22, 0x04, 0x20]), secret]);
}

function publicOf(key: crypto.KeyObject): Uint8Array {
  const x = (key.export({ format: 'jwk' }) as { x: string }).x;
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

export const nodeSuite: SignatureSuite = {
  name: 'node:crypto',
  signer(secret) {
    const key = privateKey('Ed25519', secret);
    return (message) => new Uint8Array(crypto.sign(null, message, key));
  },
  verifier(publicKey) {
    if (publicKey.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
    const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) }, format: 'jwk' });
    return (message, signature) => {
      // node:crypto refuses other lengths by throwing; a verifier answers false.
      if (signature.length !== 64) return false;
      try {
        return crypto.verify(null, message, key, signature);
      } catch {
        return false;
      }
    };
  },
  publicKey: (secret) => publicOf(privateKey('Ed25519', secret)),
  x25519PublicKey: (secret) => publicOf(privateKey('X25519', secret)),
  sha256: (data) => new Uint8Array(crypto.createHash('sha256').update(data).digest()),
  randomBytes: (length) => new Uint8Array(crypto.randomBytes(length)),
};

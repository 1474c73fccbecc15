/**
 * The CryptoSuite on node:crypto: Ed25519 and X25519 keys through JWK and DER,
 * HKDF-SHA256, AES-128-GCM and AES key wrap (OpenSSL's, constant time).
 */
import crypto from 'node:crypto';
import { base64url } from './bytes.js';
import type { CryptoSuite } from './suite.js';

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

/** RFC 3394's default initial value. */
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** Imported recipients' keys: a gateway seals to the same subscribers dispatch after dispatch. */
const publicKeys = new Map<string, crypto.KeyObject>();
const MAX_PUBLIC_KEYS = 256;

// JWK, not DER: node:crypto imports a raw key through JWK several times faster.
function x25519Public(publicKey: Uint8Array, again: boolean): crypto.KeyObject {
  if (publicKey.length !== 32) throw new TypeError('an X25519 public key is 32 bytes');
  const x = base64url(publicKey);
  let key = publicKeys.get(x);
  if (!key) {
    key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    // Ephemeral keys come once: only recipients' keys are kept.
    if (again) {
      if (publicKeys.size >= MAX_PUBLIC_KEYS) publicKeys.delete(publicKeys.keys().next().value!);
      publicKeys.set(x, key);
    }
  }
  return key;
}

function agreeWith(privateKey: crypto.KeyObject): (publicKey: Uint8Array) => Uint8Array {
  // OpenSSL refuses an all-zero result (a public key of small order) by throwing.
  return (publicKey, again = false) => new Uint8Array(crypto.diffieHellman({ privateKey, publicKey: x25519Public(publicKey, again) }));
}

export const nodeSuite: CryptoSuite = {
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

  agreement(secret) {
    if (secret.length !== 32) throw new TypeError('an X25519 secret is 32 bytes');
    return agreeWith(privateKey('X25519', secret));
  },
  ephemeral() {
    const pair = crypto.generateKeyPairSync('x25519');
    return { publicKey: publicOf(pair.publicKey), agree: agreeWith(pair.privateKey) };
  },
  hkdf: (ikm, salt, info, length) => new Uint8Array(crypto.hkdfSync('sha256', ikm, salt, info, length)),
  aesGcmSeal(key, nonce, aad, plaintext) {
    const cipher = crypto.createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
    cipher.setAAD(aad);
    const out = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
  aesGcmOpen(key, nonce, aad, sealed) {
    if (sealed.length < 16 || key.length !== 16 || nonce.length !== 12) return undefined;
    try {
      const decipher = crypto.createDecipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const out = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch {
      return undefined;
    }
  },
  aesKeyWrap(kek, key) {
    if (key.length < 16 || key.length % 8 !== 0) throw new RangeError('AES key wrap takes a key of 16 bytes or more, in 8-byte blocks');
    const cipher = crypto.createCipheriv('id-aes128-wrap', kek, KEY_WRAP_IV);
    return new Uint8Array(Buffer.concat([cipher.update(key), cipher.final()]));
  },
  aesKeyUnwrap(kek, wrapped) {
    // OpenSSL "unwraps" an empty input: a wrapped key is 24 bytes or more, in 8-byte blocks.
    if (wrapped.length < 24 || wrapped.length % 8 !== 0 || kek.length !== 16) return undefined;
    try {
      const decipher = crypto.createDecipheriv('id-aes128-wrap', kek, KEY_WRAP_IV);
      return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]));
    } catch {
      return undefined;
    }
  },
};

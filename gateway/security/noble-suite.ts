/**
 * The CryptoSuite on @noble/curves, @noble/hashes and @noble/ciphers (audited, pure
 * JavaScript), for browsers: a dashboard opened as http://192.168.x.y is not a
 * secure context, so WebCrypto is not there to use. Randomness is the browser's
 * crypto.getRandomValues, which needs no secure context.
 */
import { aeskw, gcm } from '@noble/ciphers/aes.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { AgreeFunction, CryptoSuite } from './suite.js';

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  globalThis.crypto.getRandomValues(out);
  return out;
}

function agreeWith(secret: Uint8Array): AgreeFunction {
  if (secret.length !== 32) throw new TypeError('an X25519 secret is 32 bytes');
  const copy = secret.slice();
  return (publicKey) => {
    if (publicKey.length !== 32) throw new TypeError('an X25519 public key is 32 bytes');
    // Refuses points of small order before the ladder runs.
    return x25519.getSharedSecret(copy, publicKey);
  };
}

export const nobleSuite: CryptoSuite = {
  name: '@noble/curves',
  signer(secret) {
    if (secret.length !== 32) throw new TypeError('an Ed25519 secret is 32 bytes');
    const copy = secret.slice();
    return (message) => ed25519.sign(message, copy);
  },
  verifier(publicKey) {
    if (publicKey.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
    const key = publicKey.slice();
    return (message, signature) => {
      if (signature.length !== 64) return false;
      try {
        // zip215: false is RFC 8032's strict rule (canonical encodings), as node:crypto checks it.
        return ed25519.verify(signature, message, key, { zip215: false });
      } catch {
        return false;
      }
    };
  },
  publicKey: (secret) => ed25519.getPublicKey(secret),
  x25519PublicKey: (secret) => x25519.getPublicKey(secret),
  sha256: (data) => sha256(data),
  randomBytes,

  agreement: agreeWith,
  ephemeral() {
    const secret = randomBytes(32);
    return { publicKey: x25519.getPublicKey(secret), agree: agreeWith(secret) };
  },
  hkdf: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  aesGcmSeal: (key, nonce, aad, plaintext) => gcm(key, nonce, aad).encrypt(plaintext),
  aesGcmOpen(key, nonce, aad, sealed) {
    if (sealed.length < 16 || key.length !== 16 || nonce.length !== 12) return undefined;
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      return undefined;
    }
  },
  aesKeyWrap(kek, key) {
    if (key.length < 16 || key.length % 8 !== 0) throw new RangeError('AES key wrap takes a key of 16 bytes or more, in 8-byte blocks');
    return aeskw(kek).encrypt(key);
  },
  aesKeyUnwrap(kek, wrapped) {
    if (wrapped.length < 24 || wrapped.length % 8 !== 0 || kek.length !== 16) return undefined;
    try {
      return aeskw(kek).decrypt(wrapped);
    } catch {
      return undefined;
    }
  },
};

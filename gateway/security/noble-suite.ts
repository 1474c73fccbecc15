/**
 * The SignatureSuite on @noble/curves and @noble/hashes (audited, pure JavaScript),
 * for browsers: a dashboard opened as http://192.168.x.y is not a secure context,
 * so WebCrypto is not there to use. Randomness is the browser's
 * crypto.getRandomValues, which needs no secure context.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { SignatureSuite } from './suite.js';

export const nobleSuite: SignatureSuite = {
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
  randomBytes: (length) => {
    const out = new Uint8Array(length);
    globalThis.crypto.getRandomValues(out);
    return out;
  },
};

/**
 * The cryptography the security layer needs, behind one interface so the same
 * protocol code runs in Node (node:crypto, node-suite.ts) and in browsers, where a
 * page served over plain http on a LAN is not a secure context and WebCrypto is
 * unavailable (@noble/curves and @noble/ciphers, noble-suite.ts). Types only.
 */

/** Signs messages with one Ed25519 key. */
export type SignFunction = (message: Uint8Array) => Uint8Array;
/** Verifies Ed25519 signatures of one public key; false for any malformed input. */
export type VerifyFunction = (message: Uint8Array, signature: Uint8Array) => boolean;

export interface SignatureSuite {
  readonly name: string;
  /** A signing function for the 32-byte Ed25519 secret (RFC 8032 seed). */
  signer(secret: Uint8Array): SignFunction;
  /** A verifying function for a 32-byte Ed25519 public key; throws for a key that is not one. */
  verifier(publicKey: Uint8Array): VerifyFunction;
  /** The public key of a 32-byte Ed25519 secret. */
  publicKey(secret: Uint8Array): Uint8Array;
  /** The X25519 public key of a 32-byte X25519 secret (RFC 7748). */
  x25519PublicKey(secret: Uint8Array): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
  randomBytes(length: number): Uint8Array;
}

/**
 * X25519 with one secret: the result for a peer's public key (RFC 7748 §6.1).
 * `again`: the key will come back (a recipient's own key), so a suite may keep it ready.
 */
export type AgreeFunction = (publicKey: Uint8Array, again?: boolean) => Uint8Array;

/**
 * What sealing needs (docs/spec/security.md, "Sealed dispatches"): X25519, HKDF-SHA256,
 * AES-128-GCM and AES-128 key wrap. Every opening function answers undefined for input
 * that does not authenticate, never a partial result.
 */
export interface SealingSuite {
  /**
   * An agreeing function for a 32-byte X25519 secret. It throws for a public key that is
   * not 32 bytes or whose result is all zeros (a point of small order: RFC 7748 §6.1).
   */
  agreement(secret: Uint8Array): AgreeFunction;
  /** A fresh ephemeral X25519 key pair: its public key, and agreeing with its secret. */
  ephemeral(): { publicKey: Uint8Array; agree: AgreeFunction };
  /** HKDF with SHA-256 (RFC 5869); an empty salt is HashLen zero bytes. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** AES-128-GCM with a 12-byte nonce: the ciphertext followed by the 16-byte tag. */
  aesGcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  aesGcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
  /** AES key wrap (RFC 3394) with a 16-byte key-encryption key. */
  aesKeyWrap(kek: Uint8Array, key: Uint8Array): Uint8Array;
  aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array | undefined;
}

/** Both halves: what the gateway, the command and the dashboard hold. */
export type CryptoSuite = SignatureSuite & SealingSuite;

/**
 * The cryptography the security layer needs, behind one interface so the same
 * protocol code runs in Node (node:crypto, node-suite.ts) and in browsers, where a
 * page served over plain http on a LAN is not a secure context and WebCrypto is
 * unavailable (@noble/curves, noble-suite.ts). Types only.
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

/**
 * The `pasarela/security` package entry: identities, signing, grants, sealing and the
 * client's stages, for Node and browsers alike (no Node-only imports; in a browser
 * use `nobleSuite`, in Node `nodeSuite` from `pasarela`). See docs/spec/security.md.
 */
export { createIdentity, fromJwkSet, identityId, kidOf, parseIdentityId, publicIdentity, publicIdentityFromId, toJwkSet, type Identity, type PublicIdentity } from './identity.js';
export { DispatchSigner, type Signed } from './signer.js';
export { memorySequenceStore, SequenceCounter, SEQUENCE_BLOCK, type SequenceStore } from './sequence.js';
export { ClientSecurityStage, type ClientSecurityOptions } from './client-stage.js';
export { nobleSuite } from './noble-suite.js';
export type { AgreeFunction, CryptoSuite, SealingSuite, SignatureSuite, SignFunction, VerifyFunction } from './suite.js';
export { readSignature, signDispatch, verifyDispatch, SIG_HEADER, type DispatchSignature } from './dispatch-signature.js';
export { checkValidity, decodeChain, encodeChain, GRANT_HEADER, GrantError, issueGrant, verifyChain, type Grant, type GrantClaims, type VerifiedChain } from './grant.js';
export { capability, capabilityText, CapabilitySet, PRESETS, presetCapabilities, type Ability, type Capability, type Preset } from './capabilities.js';
export { SealingStage, type SealingStageOptions, type SealingCounters } from './sealing-stage.js';
export { IDENT_HEADER, identityDocument, IdentityDocumentError, verifyIdentityDocument, type KnownIdentity } from './identity-document.js';
export { SEALED_HEADER, type SealForm } from './sealed-dispatch.js';
export type { SealRecipient } from './seal.js';

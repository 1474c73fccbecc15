/**
 * The test vectors of docs/spec/security.md, computed from fixed keys and values:
 * the spec's "Test vectors" section is this output, and spec-vectors.test.ts checks
 * that the two agree.
 */
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { createDispatch, serializeDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { base64url, fromHex, toHex } from '../../gateway/security/bytes.js';
import { presetCapabilities } from '../../gateway/security/capabilities.js';
import { Curve, okpThumbprintInput } from '../../gateway/security/cose.js';
import { signatureProtected, signDispatch } from '../../gateway/security/dispatch-signature.js';
import { encodeChain, issueGrant } from '../../gateway/security/grant.js';
import { createIdentity } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { signedPayload, toBeSigned } from '../../gateway/security/signed-content.js';
import type { SignatureSuite } from '../../gateway/security/suite.js';
import { identityDocument } from '../../gateway/security/identity-document.js';
import { contentKeyFor, seal, sealAnswer, type SealRecipient } from '../../gateway/security/seal.js';
import { externalAad, splitForSealing } from '../../gateway/security/sealed-dispatch.js';
import { encStructure } from '../../gateway/security/cose-encrypt.js';

/** RFC 8032 §7.1 TEST 1 and RFC 7748 §6.1 (Alice): keys anyone can check. */
export const SENSOR = createIdentity(nodeSuite, {
  signing: fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  agreement: fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
});
/** RFC 8032 §7.1 TEST 2 and RFC 7748 §6.1 (Bob). */
export const GATEWAY = createIdentity(nodeSuite, {
  signing: fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'),
  agreement: fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
});

/** RFC 8032 §7.1 TEST 3, and an X25519 secret of 32 bytes 0x42: a phone that subscribes too. */
export const PHONE = createIdentity(nodeSuite, {
  signing: fromHex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7'),
  agreement: new Uint8Array(32).fill(0x42),
});
/** The ephemeral secrets of the sealing vectors: e0 e1 ... ff, and 20 21 ... 3f. */
export const EPHEMERAL = Uint8Array.from({ length: 32 }, (_, i) => 0xe0 + i);
export const EPHEMERAL_FANOUT = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);

export function recipientOf(identity: typeof GATEWAY): SealRecipient {
  return { kid: identity.kid, kidHex: identity.kidHex, agreementKey: identity.agreementKey };
}

function ephemeralOf(secret: Uint8Array): { publicKey: Uint8Array; agree: (key: Uint8Array) => Uint8Array } {
  return { publicKey: nodeSuite.x25519PublicKey(secret), agree: nodeSuite.agreement(secret) };
}

/** A suite whose "random" bytes are 00 01 02 ...: for a reproducible cti. */
const fixedRandom: SignatureSuite = { ...nodeSuite, randomBytes: (n) => Uint8Array.from({ length: n }, (_, i) => i) };

export function vectors(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (name: string, value: string): void => {
    out.push([name, value]);
  };
  // Identities.
  for (const [name, identity] of [['sensor', SENSOR], ['gateway', GATEWAY]] as const) {
    add(`${name}.ed25519.secret`, toHex(identity.secrets.signing));
    add(`${name}.ed25519.public`, toHex(identity.signingKey));
    add(`${name}.x25519.public`, toHex(identity.agreementKey));
    add(`${name}.id`, identity.id);
    add(`${name}.thumbprint-input`, toHex(okpThumbprintInput(Curve.Ed25519, identity.signingKey)));
    add(`${name}.kid`, identity.kidHex);
  }
  // A sensor PATCH, signed as sequence number 1234.
  const patch = createDispatch('PATCH', ['devices', 'living-room', 'properties', 'temperature'], { body: { value: 21.5, at: 1767225600000 }, timestamp: 1767225600123 });
  const sequence = 1234;
  const protectedBytes = signatureProtected(SENSOR.kid, sequence);
  add('patch.payload', toHex(signedPayload(patch)));
  add('patch.protected', toHex(protectedBytes));
  add('patch.to-be-signed', toHex(toBeSigned(patch, protectedBytes)));
  const signed = signDispatch(SENSOR, patch, sequence);
  const signedPatch: Dispatch = { ...patch, sig: signed.sig };
  add('patch.sig', signed.sig);
  add('patch.json', serializeDispatch(signedPatch));
  add('patch.cbor', toHex(encodeDispatch(signedPatch)));
  add('patch.cbor-unsigned', toHex(encodeDispatch(patch)));
  // A request, and the gateway's answer bound to it.
  const request = createDispatch('GET', ['devices', 'living-room', 'properties', 'temperature'], { timestamp: 1767225601000, token: ['6f9e2c1a-4b7d-4e8f-9a0b-1c2d3e4f5a6b'] });
  const requestSigned = signDispatch(SENSOR, request, 1235);
  add('request.sig', requestSigned.sig);
  const answer: Dispatch = { protocol: ['JSTP', '0.5', 'pasarela'], method: 'ANSWER', resource: [200, '6f9e2c1a-4b7d-4e8f-9a0b-1c2d3e4f5a6b', '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d'], timestamp: 1767225601004, body: { value: 21.5, at: 1767225600000 } };
  const answerProtected = signatureProtected(GATEWAY.kid, 77);
  add('answer.external-aad', toHex(requestSigned.protectedBytes));
  add('answer.to-be-signed', toHex(toBeSigned(answer, answerProtected, requestSigned.protectedBytes)));
  add('answer.sig', signDispatch(GATEWAY, answer, 77, requestSigned.protectedBytes).sig);
  // A grant: read on one device, for a week, issued by the sensor's key (as an owner) to the gateway's.
  const grant = issueGrant(fixedRandom, SENSOR, {
    audience: GATEWAY.id,
    capabilities: presetCapabilities('read', ['living-room']),
    notBefore: 1767225600,
    expires: 1767830400,
    now: 1767225600000,
  });
  add('grant.cose-sign1', toHex(grant.bytes));
  add('grant.chain', encodeChain([grant]));
  // The compact CBOR reads back to the JSON text form.
  const back = decodeDispatch(fromHex(out.find(([name]) => name === 'patch.cbor')![1]));
  if (back.sig !== signed.sig) throw new Error('the CBOR form does not read back');

  // Part 2. The gateway's identity document, issued at 2026-01-01T00:00:00Z.
  add('gateway.identity-document', identityDocument(GATEWAY, 1767225600000));
  // The sensor's PUT, signed as 1236, sealed to the gateway with the ephemeral secret e0..ff.
  const put = createDispatch('PUT', ['devices', 'vault', 'properties', 'code'], { body: { value: '4711' }, timestamp: 1767225602000, token: ['9b2f6a3e-5c1d-4f7a-8e9b-0a1b2c3d4e5f'] });
  const putSigned: Dispatch = { ...put, sig: signDispatch(SENSOR, put, 1236).sig };
  const ephemeral = ephemeralOf(EPHEMERAL);
  add('seal.ephemeral.secret', toHex(EPHEMERAL));
  add('seal.ephemeral.public', toHex(ephemeral.publicKey));
  const shared = ephemeral.agree(GATEWAY.agreementKey);
  add('seal.shared-secret', toHex(shared));
  const derived = contentKeyFor(nodeSuite, shared, ephemeral.publicKey, GATEWAY.kid);
  add('seal.kdf-context', toHex(derived.info));
  add('seal.content-key', toHex(derived.key));
  const split = splitForSealing(putSigned, 'full');
  add('seal.plaintext', toHex(split.plaintext));
  const aad = externalAad(split.outer);
  add('seal.external-aad', toHex(aad));
  add('seal.enc-structure', toHex(encStructure('Encrypt0', Uint8Array.of(0xa1, 0x01, 0x01), aad)));
  const sealed = seal(nodeSuite, [recipientOf(GATEWAY)], split.plaintext, (more) => externalAad(split.outer, more), { ephemeral, answers: true });
  add('seal.sealed', toHex(sealed.bytes));
  const sealedRequest: Dispatch = { ...split.outer, sealed: base64url(sealed.bytes) };
  add('seal.json', serializeDispatch(sealedRequest));
  add('seal.cbor', toHex(encodeDispatch(sealedRequest)));
  add('seal.answer-key', toHex(sealed.answerKeys!.key));
  // The gateway's answer (signed as 78, bound to the request's signature), sealed back as answer 0.
  const sealedAnswer: Dispatch = { protocol: ['JSTP', '0.5', 'pasarela'], method: 'ANSWER', resource: [200, '9b2f6a3e-5c1d-4f7a-8e9b-0a1b2c3d4e5f', '1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5'], timestamp: 1767225602003, body: { stored: true } };
  const answerSigned: Dispatch = { ...sealedAnswer, sig: signDispatch(GATEWAY, sealedAnswer, 78, signatureProtected(SENSOR.kid, 1236)).sig };
  const answerSplit = splitForSealing(answerSigned, 'full');
  add('seal.answer.plaintext', toHex(answerSplit.plaintext));
  const answerSealed = sealAnswer(nodeSuite, sealed.answerKeys!, 0, answerSplit.plaintext, externalAad(answerSplit.outer));
  add('seal.answer.json', serializeDispatch({ ...answerSplit.outer, sealed: base64url(answerSealed) }));
  // The sensor PATCH of part 1 as the gateway fans it out, signed by the gateway (as 79),
  // sealed for the sensor and the phone with the ephemeral secret 20..3f.
  const fanout: Dispatch = { ...patch, sig: signDispatch(GATEWAY, patch, 79).sig };
  const fanoutSplit = splitForSealing(fanout, 'visible');
  add('fanout.plaintext', toHex(fanoutSplit.plaintext));
  const fanoutSealed = seal(nodeSuite, [recipientOf(SENSOR), recipientOf(PHONE)], fanoutSplit.plaintext, (more) => externalAad(fanoutSplit.outer, more), { ephemeral: ephemeralOf(EPHEMERAL_FANOUT) });
  add('fanout.sealed', toHex(fanoutSealed.bytes));
  add('fanout.cbor', toHex(encodeDispatch({ ...fanoutSplit.outer, sealed: base64url(fanoutSealed.bytes) })));
  add('phone.x25519.public', toHex(PHONE.agreementKey));
  add('phone.kid', PHONE.kidHex);
  return out;
}

/** The block as the spec writes it: `name: value`, long values wrapped at 96 characters. */
export function vectorBlock(): string {
  return vectors()
    .map(([name, value]) => {
      const lines = value.match(/.{1,96}/g) ?? [''];
      return `${name}:\n${lines.map((line) => `  ${line}`).join('\n')}`;
    })
    .join('\n');
}

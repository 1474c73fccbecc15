/**
 * The test vectors of docs/spec/security.md, computed from fixed keys and values:
 * the spec's "Test vectors" section is this output, and spec-vectors.test.ts checks
 * that the two agree.
 */
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { createDispatch, serializeDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { fromHex, toHex } from '../../gateway/security/bytes.js';
import { presetCapabilities } from '../../gateway/security/capabilities.js';
import { Curve, okpThumbprintInput } from '../../gateway/security/cose.js';
import { signatureProtected, signDispatch } from '../../gateway/security/dispatch-signature.js';
import { encodeChain, issueGrant } from '../../gateway/security/grant.js';
import { createIdentity } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { signedPayload, toBeSigned } from '../../gateway/security/signed-content.js';
import type { SignatureSuite } from '../../gateway/security/suite.js';

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

/**
 * Signed dispatches (docs/spec/security.md, "Signed dispatches"): what the signature
 * covers and what it leaves out, the two wire forms of the `sig` header (base64url
 * in JSON, the COSE_Sign1 itself under key -1 in compact CBOR), the bytes it adds,
 * and the rules of the profile.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { createDispatch, serializeDispatch, validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { fromBase64url, toHex } from '../../gateway/security/bytes.js';
import { decodeItem } from '../../gateway/security/cbor-item.js';
import { partialIv, readSignature, signatureProtected, signDispatch, verifyDispatch } from '../../gateway/security/dispatch-signature.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { signedPayload } from '../../gateway/security/signed-content.js';
import { alice, bob } from './helpers.js';

const verifyAlice = nodeSuite.verifier(alice.signingKey);

function sensorPatch(): Dispatch {
  return createDispatch('PATCH', ['devices', 'living-room', 'properties', 'temperature'], { body: { value: 21.5, at: 1_767_225_600_000 }, timestamp: 1_767_225_600_123 });
}

function check(dispatch: Dispatch, sig: string, aad?: Uint8Array): boolean {
  const reading = readSignature(sig);
  if (!reading.ok) return false;
  return verifyDispatch(verifyAlice, dispatch, reading.signature, aad);
}

describe('what a signature covers', () => {
  const original = sensorPatch();
  const { sig } = signDispatch(alice, original, 7);

  it('verifies the dispatch it signed', () => {
    expect(check(original, sig)).toBe(true);
    expect(readSignature(sig)).toMatchObject({ ok: true, signature: { kidHex: alice.kidHex, sequence: 7 } });
  });

  it.each<[string, (d: Dispatch) => Dispatch]>([
    ['method', (d) => ({ ...d, method: 'PUT' })],
    ['resource', (d) => ({ ...d, resource: ['devices', 'kitchen', 'properties', 'temperature'] })],
    ['resource element type', (d) => ({ ...d, resource: ['devices', 'living-room', 'properties', 7] })],
    ['body', (d) => ({ ...d, body: { value: 22.5, at: 1_767_225_600_000 } })],
    ['body removed', (d) => ({ ...d, body: undefined })],
    ['timestamp', (d) => ({ ...d, timestamp: d.timestamp + 1 })],
    ['referer added', (d) => ({ ...d, referer: 'someone' })],
  ])('a changed %s no longer verifies', (_what, change) => {
    expect(check(change(original), sig)).toBe(false);
  });

  it.each<[string, (d: Dispatch) => Dispatch]>([
    ['host (hops)', (d) => ({ ...d, host: [['10.0.0.7', 33333, 'tcp']] })],
    ['token', (d) => ({ ...d, token: ['a', 'b'] })],
    ['protocol', (d) => ({ ...d, protocol: ['JSTP', '0.4'] })],
    ['an unknown header', (d) => ({ ...d, 'x-note': 1 })],
  ])('engines may change %s: the signature still verifies', (_what, change) => {
    expect(check(change(original), sig)).toBe(true);
  });

  it('an absent body is signed as {} and an absent referer as [], as node-jstp fills them in', () => {
    const bare = createDispatch('GET', ['gateway'], { timestamp: 5 });
    const signed = signDispatch(alice, bare, 1).sig;
    expect(check({ ...bare, body: {}, referer: [] }, signed)).toBe(true);
    // A falsy body does not survive node-jstp: it becomes {}, and that is a change.
    const zero = createDispatch('PUT', ['x'], { body: 0, timestamp: 5 });
    expect(check({ ...zero, body: {} }, signDispatch(alice, zero, 2).sig)).toBe(false);
  });

  it('the payload is [method, target, timestamp, body, referer] in deterministic CBOR', () => {
    // 21.5 is the half float f9 4d60; the body's keys sorted ("at" before "value").
    expect(toHex(signedPayload(original))).toBe(
      `85 06 84 67${toHex(Buffer.from('devices'))} 6b${toHex(Buffer.from('living-room'))} 6a${toHex(Buffer.from('properties'))} 6b${toHex(Buffer.from('temperature'))} 1b0000019b76daa87b a2 62${toHex(Buffer.from('at'))} 1b0000019b76daa800 65${toHex(Buffer.from('value'))} f94d60 80`.replace(/ /g, ''),
    );
    const bind: Dispatch = { protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method: '*', resource: ['devices', '...'] }, timestamp: 9 };
    expect(decodeItem(signedPayload(bind))).toEqual([8, ['*', ['devices', '...']], 9, new Map(), []]);
    const answer: Dispatch = { protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: [200, 'tx', 'trig'], timestamp: 9, body: 'ok' };
    expect(decodeItem(signedPayload(answer))).toEqual([10, 200, 9, 'ok', []]);
  });

  it('binds an answer to its request through external_aad', () => {
    const answer: Dispatch = { protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: [200, 'tx', 'trig'], timestamp: 9, body: 'ok' };
    const request = signDispatch(bob, createDispatch('GET', ['x'], { timestamp: 1 }), 3);
    const { sig } = signDispatch(alice, answer, 8, request.protectedBytes);
    expect(check(answer, sig, request.protectedBytes)).toBe(true);
    // The same answer presented for another request.
    const other = signDispatch(bob, createDispatch('GET', ['x'], { timestamp: 1 }), 4);
    expect(check(answer, sig, other.protectedBytes)).toBe(false);
    expect(check(answer, sig)).toBe(false);
  });

  it('does not verify with another key', () => {
    const { sig: bobs } = signDispatch(bob, original, 7);
    expect(check(original, bobs)).toBe(false);
  });
});

describe('the sig header', () => {
  it('is an untagged COSE_Sign1: [<<{1: -8, 4: kid, 6: piv}>>, {}, nil, signature]', () => {
    const { sig, protectedBytes } = signDispatch(alice, sensorPatch(), 0x0102);
    const item = decodeItem(fromBase64url(sig)!) as unknown[];
    expect(item).toHaveLength(4);
    expect(toHex(item[0] as Uint8Array)).toBe(`a3012704 48${alice.kidHex} 0642 0102`.replace(/ /g, ''));
    expect(toHex(protectedBytes)).toBe(toHex(item[0] as Uint8Array));
    expect(item[1]).toEqual(new Map());
    expect(item[2]).toBeNull();
    expect((item[3] as Uint8Array).length).toBe(64);
  });

  it('writes the sequence number as OSCORE writes its Partial IV', () => {
    expect(toHex(partialIv(0))).toBe('00');
    expect(toHex(partialIv(255))).toBe('ff');
    expect(toHex(partialIv(256))).toBe('0100');
    expect(toHex(partialIv(2 ** 40 - 1))).toBe('ffffffffff');
    expect(() => partialIv(2 ** 40)).toThrow(RangeError);
    expect(() => partialIv(-1)).toThrow(RangeError);
  });

  it.each<[string, string]>([
    ['not base64url', '!!!'],
    ['padding', `${signDispatch(alice, sensorPatch(), 1).sig}=`],
    ['a map, not an array', 'oA'],
    ['a tagged COSE_Sign1', Buffer.from([0xd2, ...fromBase64url(signDispatch(alice, sensorPatch(), 1).sig)!]).toString('base64url')],
    ['an unprotected header', Buffer.from([0x84, 0x40, 0xa1, 0x01, 0x27, 0xf6, 0x58, 0x40, ...new Uint8Array(64)]).toString('base64url')],
    ['an attached payload', Buffer.from([0x84, 0x50, ...signatureProtected(alice.kid, 1), 0xa0, 0x41, 0x00, 0x58, 0x40, ...new Uint8Array(64)]).toString('base64url')],
    ['a short signature', Buffer.from([0x84, 0x50, ...signatureProtected(alice.kid, 1), 0xa0, 0xf6, 0x58, 0x3f, ...new Uint8Array(63)]).toString('base64url')],
    ['a 4-byte kid', Buffer.from([0x84, 0x4a, 0xa3, 0x01, 0x27, 0x04, 0x44, 1, 2, 3, 4, 0x06, 0x41, 0x01, 0xa0, 0xf6, 0x58, 0x40, ...new Uint8Array(64)]).toString('base64url')],
    ['a Partial IV with a leading zero', Buffer.from([0x84, 0x51, 0xa3, 0x01, 0x27, 0x04, 0x48, ...alice.kid, 0x06, 0x42, 0x00, 0x01, 0xa0, 0xf6, 0x58, 0x40, ...new Uint8Array(64)]).toString('base64url')],
    ['another algorithm', Buffer.from([0x84, 0x50, 0xa3, 0x01, 0x26, 0x04, 0x48, ...alice.kid, 0x06, 0x41, 0x01, 0xa0, 0xf6, 0x58, 0x40, ...new Uint8Array(64)]).toString('base64url')],
    ['too long', 'A'.repeat(300)],
  ])('refuses a sig header that is %s', (_what, sig) => {
    expect(readSignature(sig).ok).toBe(false);
  });
});

describe('the two wire forms', () => {
  const signedPatch = (): Dispatch => {
    const patch = sensorPatch();
    return { ...patch, sig: signDispatch(alice, patch, 70_000).sig };
  };

  it('compact CBOR carries the COSE_Sign1 itself under key -1 and reads back to the same base64url text', () => {
    const dispatch = signedPatch();
    const bytes = encodeDispatch(dispatch);
    const raw = fromBase64url(dispatch.sig as string)!;
    // The map entry: key -1 (0x20) then the COSE_Sign1 bytes unchanged.
    expect(toHex(bytes)).toContain(`20${toHex(raw)}`);
    const back = decodeDispatch(bytes);
    expect(back.sig).toBe(dispatch.sig);
    const validated = validateDispatch(back);
    expect(validated.ok && check(validated.dispatch, back.sig as string)).toBe(true);
  });

  it('a sig header that is not a COSE structure stays text, so every dispatch reads back as it was', () => {
    for (const value of ['hello', 'oA', 42, { a: 1 }]) {
      const dispatch = { ...sensorPatch(), sig: value };
      expect(decodeDispatch(encodeDispatch(dispatch)).sig).toEqual(value);
    }
  });

  it('refuses key -1 twice, or beside a text "sig", and a key -1 that is not an array', () => {
    const sig = fromBase64url(signedPatch().sig as string)!;
    // {-1: sig, "sig": "x"}
    expect(() => decodeDispatch(Uint8Array.from([0xa2, 0x20, ...sig, 0x63, 0x73, 0x69, 0x67, 0x61, 0x78]))).toThrow(/twice/);
    expect(() => decodeDispatch(Uint8Array.from([0xa1, 0x20, 0x01]))).toThrow(/must be an array/);
    // Other negative keys stay reserved.
    expect(() => decodeDispatch(Uint8Array.from([0xa1, 0x29, 0x80]))).toThrow(/reserved for the security layer/);
  });

  it('adds at most 90 bytes to a sensor PATCH in compact CBOR (and says how many in JSON)', () => {
    const patch = sensorPatch();
    // A long-lived signer: sequence numbers past 2^24 take 4 bytes.
    const dispatch = { ...patch, sig: signDispatch(alice, patch, 2 ** 24).sig };
    const cbor = encodeDispatch(dispatch).length - encodeDispatch(patch).length;
    const json = serializeDispatch(dispatch).length - serializeDispatch(patch).length;
    expect(cbor).toBeLessThanOrEqual(90);
    expect(cbor).toBeGreaterThanOrEqual(86);
    expect(json).toBeGreaterThan(cbor);
  });

  it('python3-cbor2 reads the signed dispatch and finds the COSE_Sign1 under -1', () => {
    const bytes = encodeDispatch(signedPatch());
    const script = 'import sys,cbor2; d=cbor2.loads(bytes.fromhex(sys.argv[1])); s=d[-1]; print(len(s), len(s[0]), s[1], s[2], len(s[3]))';
    // Debian's python3-cbor2, not whatever python3 is first on PATH.
    const run = spawnSync('/usr/bin/python3', ['-c', script, toHex(bytes)], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('4 18 {} None 64');
  });
});

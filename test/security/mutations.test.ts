/**
 * 10,000 mutations of signed dispatches, every one refused: bit flips in the compact
 * CBOR and in the JSON wire forms, fields moved or swapped within a dispatch and
 * between two, a changed sequence number, a signature made with another key (under
 * the right kid and under its own), a kid pointing to another granted signer. A
 * mutant whose signed content and signature are the original's (a flip in `token` or
 * in the protocol version, which engines may change) is not a mutation of what is
 * signed and is not counted.
 */
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { base64url, fromBase64url, toHex } from '../../gateway/security/bytes.js';
import { presetCapabilities } from '../../gateway/security/capabilities.js';
import { partialIv, readSignature } from '../../gateway/security/dispatch-signature.js';
import { signedPayload } from '../../gateway/security/signed-content.js';
import { prng } from '../support/prng.js';
import { alice, bindDispatch, bob, chainText, grantTo, mallory, request, securedEngine, signed, signerFor } from './helpers.js';

const TARGET = 10_000;


function fingerprint(dispatch: Dispatch): string | undefined {
  try {
    return `${toHex(signedPayload(dispatch))} ${String(dispatch.sig)}`;
  } catch {
    return undefined;
  }
}

describe('10,000 mutations of signed dispatches', () => {
  it('are every one refused (401 or 403), and nothing reaches a handler', async () => {
    const rig = securedEngine();
    const served: unknown[] = [];
    rig.engine.bind({ method: '*', resource: ['devices', '...'] }, (incoming) => {
      served.push(incoming.dispatch);
      return 'served';
    });
    const attacker = rig.channel('attacker');
    // Alice and Bob present real grants on the attacker's connection, so their keys are known there.
    const aliceSigner = signerFor(alice);
    const bobSigner = signerFor(bob);
    const grants = [chainText(grantTo(alice, presetCapabilities('admin'))), chainText(grantTo(bob, presetCapabilities('admin')))];
    for (const [signer, grant] of [[aliceSigner, grants[0]!], [bobSigner, grants[1]!]] as const) {
      const hello = signed(signer, request('GET', ['devices']), grant);
      rig.engine.receive(JSON.parse(JSON.stringify(hello)), attacker);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(served).toHaveLength(2);
    served.length = 0;

    const originals: Dispatch[] = [
      signed(aliceSigner, request('PUT', ['devices', 'coffee', 'properties', 'keepWarm'], true)),
      signed(aliceSigner, request('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'large', strength: 'strong' })),
      signed(aliceSigner, { ...request('PATCH', ['devices', 'rover', 'properties', 'pose'], { x: 1.25, y: -3, heading: 90 }), referer: 'rover' }),
      signed(aliceSigner, request('DELETE', ['devices', 'plug', 7])),
      signed(aliceSigner, bindDispatch('PATCH', ['devices', '*', 'properties', ':name'])),
    ];
    const other = signed(bobSigner, request('POST', ['devices', 'rover', 'actions', 'move'], { distance: 2 }));
    const known = new Set(originals.map(fingerprint));
    const next = prng(20260807);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;

    const reSign = (d: Dispatch, change: (parts: { protectedBytes: Uint8Array; signature: Uint8Array }) => { protectedBytes: Uint8Array; signature: Uint8Array }): Dispatch => {
      const reading = readSignature(d.sig);
      if (!reading.ok) throw new Error('original unsigned');
      const parts = change({ protectedBytes: reading.signature.protectedBytes, signature: reading.signature.signature });
      const bytes = [0x84, 0x40 | parts.protectedBytes.length, ...parts.protectedBytes, 0xa0, 0xf6, 0x58, 0x40, ...parts.signature];
      return { ...d, sig: base64url(Uint8Array.from(bytes)) };
    };

    const mutations: Array<[string, (d: Dispatch) => unknown]> = [
      ['a bit flipped in the compact CBOR', (d) => {
        const bytes = encodeDispatch(d).slice();
        const at = Math.floor(next() * bytes.length);
        bytes[at]! ^= 1 << Math.floor(next() * 8);
        return decodeDispatch(bytes);
      }],
      ['a bit flipped in the JSON text', (d) => {
        const text = Buffer.from(JSON.stringify(d));
        const at = Math.floor(next() * text.length);
        text[at]! ^= 1 << Math.floor(next() * 7);
        return JSON.parse(text.toString('latin1'));
      }],
      ['resource elements swapped or moved', (d) => {
        if (!d.resource) return { ...d, endpoint: { method: d.endpoint!.method, resource: [...d.endpoint!.resource].reverse() } };
        const resource = [...d.resource];
        const i = Math.floor(next() * resource.length);
        const j = (i + 1 + Math.floor(next() * (resource.length - 1))) % resource.length;
        [resource[i], resource[j]] = [resource[j]!, resource[i]!];
        return resource.join() === d.resource.join() ? { ...d, resource: [...resource, 'x'] } : { ...d, resource };
      }],
      ['body moved into referer, or the other way', (d) => ({ ...d, body: d.referer, referer: d.body ?? {} })],
      ['the timestamp changed', (d) => ({ ...d, timestamp: d.timestamp + 1 + Math.floor(next() * 1e6) })],
      ['the method changed', (d) => ({ ...d, method: pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => m !== d.method)) })],
      ['the signature of another dispatch', (d) => ({ ...d, sig: pick([...originals.filter((o) => o !== d), other]).sig })],
      ['the body of another dispatch', (d) => ({ ...d, body: pick([...originals.filter((o) => o !== d), other]).body ?? { swapped: true } })],
      ['the sequence number changed', (d) => reSign(d, ({ protectedBytes, signature }) => {
        const reading = readSignature(d.sig);
        const sequence = reading.ok ? reading.signature.sequence : 0;
        const piv = partialIv(Math.max(0, sequence + pick([-2, -1, 1, 2, 256, 1000])));
        return { protectedBytes: Uint8Array.from([0xa3, 0x01, 0x27, 0x04, 0x48, ...protectedBytes.subarray(5, 13), 0x06, 0x40 | piv.length, ...piv]), signature };
      })],
      ['signed by another key under the same kid', (d) => {
        const forged = signerFor(mallory, 8192).sign(d);
        const reading = readSignature(forged.dispatch.sig);
        return reSign(d, ({ protectedBytes }) => ({ protectedBytes, signature: reading.ok ? reading.signature.signature : new Uint8Array(64) }));
      }],
      ['signed by another key under its own kid', (d) => signerFor(mallory, 8192).sign({ ...d, sig: undefined }).dispatch],
      ['the kid of another granted signer', (d) => reSign(d, ({ protectedBytes, signature }) => {
        const out = protectedBytes.slice();
        out.set(bob.kid, 5);
        return { protectedBytes: out, signature };
      })],
      ['a byte of the signature changed', (d) => reSign(d, ({ protectedBytes, signature }) => {
        const out = signature.slice();
        out[Math.floor(next() * 64)]! ^= 1 + Math.floor(next() * 255);
        return { protectedBytes, signature: out };
      })],
      ['the sig header removed', (d) => ({ ...d, sig: undefined })],
    ];

    const counts = new Map<string, number>();
    let sent = 0;
    let unreadable = 0;
    for (let attempt = 0; sent + unreadable < TARGET && attempt < TARGET * 3; attempt++) {
      const original = pick(originals);
      const [kind, mutate] = pick(mutations);
      let raw: unknown;
      try {
        raw = mutate(original);
      } catch {
        // A flip that breaks the encoding: refused before any stage.
        unreadable++;
        counts.set(`${kind} (unreadable)`, (counts.get(`${kind} (unreadable)`) ?? 0) + 1);
        continue;
      }
      const validated = validateDispatch(JSON.parse(JSON.stringify(raw ?? null)));
      if (!validated.ok) {
        unreadable++;
        counts.set(`${kind} (invalid)`, (counts.get(`${kind} (invalid)`) ?? 0) + 1);
        continue;
      }
      // The same signed content and signature: not a mutation of what is signed.
      if (known.has(fingerprint(validated.dispatch))) continue;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      // Each mutant gets a fresh transaction id, so its answer can be told apart.
      const token = [`10000000-0000-4000-8000-${String(sent).padStart(12, '0')}`];
      const method = validated.dispatch.method === 'ANSWER' ? 'PATCH' : validated.dispatch.method;
      rig.engine.receive({ ...JSON.parse(JSON.stringify(validated.dispatch)), method, token }, attacker);
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(sent + unreadable).toBe(TARGET);
    expect(served).toEqual([]);
    const answers = attacker.sent.filter((d) => d.method === 'ANSWER' && String(d.resource![1]).startsWith('10000000-') && d.resource![0] !== 101);
    const statuses = new Map<number, number>();
    for (const answer of answers) statuses.set(answer.resource![0] as number, (statuses.get(answer.resource![0] as number) ?? 0) + 1);
    // One refusal per mutant that reached the stage; only 401 and 403 among them.
    expect(answers).toHaveLength(sent);
    expect([...statuses.keys()].sort()).toEqual([401, 403]);
    expect((statuses.get(401) ?? 0) + (statuses.get(403) ?? 0)).toBe(sent);
    // Nearly all of them reached the stage: only broken encodings stopped earlier.
    expect(sent).toBeGreaterThan(TARGET * 0.9);
    // Every kind was tried many times.
    for (const [kind] of mutations) expect(counts.get(kind) ?? 0, kind).toBeGreaterThan(100);
    expect(rig.stage.stats().verified).toBe(2);
  }, 60_000);
});

it('a fingerprint tells changed signed content apart', () => {
  const signer = signerFor(alice);
  const a = signed(signer, request('GET', ['x']));
  expect(fingerprint(a)).toBe(fingerprint({ ...a, token: ['other'], protocol: ['JSTP', '0.4'] }));
  expect(fingerprint(a)).not.toBe(fingerprint({ ...a, resource: ['y'] }));
  expect(fromBase64url(String(a.sig))).toBeDefined();
});

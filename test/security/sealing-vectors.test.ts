/**
 * The primitives under sealing against public vectors, with both suites (node:crypto
 * for the gateway and the command, @noble for the dashboard): Wycheproof's X25519,
 * HKDF-SHA256, AES-128-GCM and AES-128 key wrap (test/fixtures/wycheproof/), and the
 * COSE working group's encrypted, enveloped, X25519 and key-wrap examples
 * (test/fixtures/cose-examples/) read with our COSE_Encrypt reader, Enc_structure and
 * COSE_KDF_Context. Then the two suites seal for each other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromBase64url, fromHex, toHex } from '../../gateway/security/bytes.js';
import { Alg, Header } from '../../gateway/security/cose.js';
import { decodeEncrypted, encryptedHeader, encStructure, kdfContext, type CoseEncrypted } from '../../gateway/security/cose-encrypt.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { open, readSealed, seal, openAnswer, sealAnswer } from '../../gateway/security/seal.js';
import type { CryptoSuite } from '../../gateway/security/suite.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const suites: CryptoSuite[] = [nodeSuite, nobleSuite];

function wycheproof<T>(name: string): { numberOfTests: number; testGroups: (Record<string, unknown> & { tests: T[] })[] } {
  return JSON.parse(readFileSync(join(FIXTURES, 'wycheproof', name), 'utf8')) as never;
}

interface Base {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
}

describe.each(suites)('Wycheproof with $name', (suite) => {
  it('X25519: every valid secret computed; every public key of small order refused', () => {
    const file = wycheproof<Base & { public: string; private: string; shared: string }>('x25519_test.json');
    const wrong: string[] = [];
    let refused = 0;
    let checked = 0;
    for (const group of file.testGroups) {
      for (const t of group.tests) {
        let shared: string | undefined;
        try {
          shared = toHex(suite.agreement(fromHex(t.private))(fromHex(t.public)));
        } catch {
          shared = undefined;
        }
        checked++;
        const zero = /^0+$/.test(t.shared);
        if (zero) {
          // RFC 7748 §6.1: an all-zero secret means a point of small order: refuse it.
          if (shared !== undefined) wrong.push(`#${t.tcId} ${t.comment}: accepted a zero secret`);
          else refused++;
        } else if (shared !== t.shared) wrong.push(`#${t.tcId} ${t.comment} (${t.flags.join(',')}): got ${shared ?? 'a refusal'}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBe(file.numberOfTests);
    expect(refused).toBeGreaterThan(20);
  });

  it('HKDF-SHA256: every output matches; lengths past 255 blocks are refused', () => {
    const file = wycheproof<Base & { ikm: string; salt: string; info: string; size: number; okm: string }>('hkdf_sha256_test.json');
    const wrong: string[] = [];
    let invalid = 0;
    for (const group of file.testGroups) {
      for (const t of group.tests) {
        let okm: string | undefined;
        try {
          okm = toHex(suite.hkdf(fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size));
        } catch {
          okm = undefined;
        }
        if (t.result === 'invalid') {
          invalid++;
          if (okm !== undefined) wrong.push(`#${t.tcId}: ${t.comment} accepted`);
        } else if (okm !== t.okm) wrong.push(`#${t.tcId}: ${t.comment}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(invalid).toBe(3);
  });

  it('AES-128-GCM with 96-bit nonces: valid vectors seal and open exactly, modified tags never open', () => {
    const file = wycheproof<Base & { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }>('aes_gcm_test.json');
    const wrong: string[] = [];
    let counted = 0;
    for (const group of file.testGroups) {
      if (group.keySize !== 128 || group.ivSize !== 96 || group.tagSize !== 128) continue;
      for (const t of group.tests) {
        counted++;
        const [key, iv, aad] = [fromHex(t.key), fromHex(t.iv), fromHex(t.aad)];
        const opened = suite.aesGcmOpen(key, iv, aad, fromHex(t.ct + t.tag));
        if (t.result === 'invalid') {
          if (opened) wrong.push(`#${t.tcId} opened: ${t.comment}`);
          continue;
        }
        if (!opened || toHex(opened) !== t.msg) wrong.push(`#${t.tcId} did not open: ${t.comment}`);
        if (toHex(suite.aesGcmSeal(key, iv, aad, fromHex(t.msg))) !== t.ct + t.tag) wrong.push(`#${t.tcId} sealed differently`);
      }
    }
    expect(wrong).toEqual([]);
    expect(counted).toBe(67);
  });

  it('AES-128 key wrap: valid vectors wrap and unwrap exactly, every invalid one is refused', () => {
    const file = wycheproof<Base & { key: string; msg: string; ct: string }>('aes_wrap_test.json');
    const wrong: string[] = [];
    let invalid = 0;
    for (const group of file.testGroups) {
      if (group.keySize !== 128) continue;
      for (const t of group.tests) {
        const kek = fromHex(t.key);
        const unwrapped = suite.aesKeyUnwrap(kek, fromHex(t.ct));
        if (t.result === 'invalid') {
          invalid++;
          if (unwrapped) wrong.push(`#${t.tcId} unwrapped: ${t.comment} ${t.flags.join(',')}`);
          continue;
        }
        if (t.result === 'acceptable') continue;
        if (!unwrapped || toHex(unwrapped) !== t.msg) wrong.push(`#${t.tcId} did not unwrap`);
        if (toHex(suite.aesKeyWrap(kek, fromHex(t.msg))) !== t.ct) wrong.push(`#${t.tcId} wrapped differently`);
      }
    }
    expect(wrong).toEqual([]);
    expect(invalid).toBeGreaterThan(25);
  });
});

// ---- the COSE working group's examples ------------------------------------------------------

interface CoseExample {
  title: string;
  input: {
    plaintext: string;
    encrypted?: ExampleLayer;
    enveloped?: ExampleLayer;
    rng_stream: string[];
  };
  intermediates?: { AAD_hex?: string; CEK_hex?: string; recipients?: { Context_hex?: string; Secret_hex?: string }[] };
  output: { cbor: string };
}

interface ExampleLayer {
  external?: string;
  recipients: { key: { kty: string; k?: string; d_hex?: string }; sender_key?: { x_hex: string } }[];
}

function examples(folder: string): Array<[string, CoseExample]> {
  const dir = join(FIXTURES, 'cose-examples', folder);
  return readdirSync(dir).map((name) => [`${folder}/${name}`, JSON.parse(readFileSync(join(dir, name), 'utf8').replace(/^\uFEFF/, '')) as CoseExample]);
}

const utf8 = new TextDecoder();

/** Opens an example with our reader, or says why not. Supports what sealing uses: A128GCM; direct, A128KW, ECDH-ES/SS + HKDF-256. */
function openExample(suite: CryptoSuite, example: CoseExample): { plaintext?: string; refused?: string; cek?: string; context?: string; secret?: string; aad?: string } {
  const layer = (example.input.encrypted ?? example.input.enveloped)!;
  const external = layer.external ? fromHex(layer.external) : new Uint8Array(0);
  let message: CoseEncrypted;
  try {
    message = decodeEncrypted(fromHex(example.output.cbor), { mapOrder: 'any' });
  } catch (error) {
    return { refused: (error as Error).message };
  }
  if (encryptedHeader(message, Header.Alg) !== Alg.A128GCM) return { refused: `content algorithm ${String(encryptedHeader(message, Header.Alg))} is not A128GCM` };
  const iv = encryptedHeader(message, Header.Iv);
  if (!(iv instanceof Uint8Array)) return { refused: 'no IV' };
  const recipientKey = layer.recipients[0]!.key;
  let cek: Uint8Array | undefined;
  let context: Uint8Array | undefined;
  let secret: Uint8Array | undefined;
  if (message.kind === 'Encrypt0') cek = fromBase64url(recipientKey.k!);
  else {
    const recipient = message.recipients[0]!;
    const alg = encryptedHeader(recipient, Header.Alg);
    if (alg === Alg.Direct) cek = fromBase64url(recipientKey.k!);
    else if (alg === Alg.A128KW) cek = suite.aesKeyUnwrap(fromBase64url(recipientKey.k!)!, recipient.ciphertext);
    else if (alg === Alg.EcdhEsHkdf256 || alg === -27) {
      // ES: the sender's ephemeral key is in the recipient header (-1); SS: its static key is given.
      const ephemeral = encryptedHeader(recipient, Header.EphemeralKey);
      const x = alg === Alg.EcdhEsHkdf256 ? ((ephemeral as Map<number, unknown>).get(-2) as Uint8Array) : fromHex(layer.recipients[0]!.sender_key!.x_hex);
      secret = suite.agreement(fromHex(recipientKey.d_hex!))(x);
      const nonce = encryptedHeader(recipient, -22);
      context = kdfContext({ algorithm: Alg.A128GCM, ...(nonce instanceof Uint8Array ? { partyU: { nonce } } : {}), keyDataLength: 128, protectedBytes: recipient.protectedBytes });
      cek = suite.hkdf(secret, new Uint8Array(0), context, 16);
    } else return { refused: `recipient algorithm ${String(alg)}` };
  }
  if (!cek) return { refused: 'the key does not unwrap' };
  const aad = encStructure(message.kind, message.protectedBytes, external);
  const plaintext = suite.aesGcmOpen(cek, iv, aad, message.ciphertext);
  return {
    ...(plaintext ? { plaintext: utf8.decode(plaintext) } : { refused: 'does not authenticate' }),
    cek: toHex(cek),
    aad: toHex(aad),
    ...(context ? { context: toHex(context) } : {}),
    ...(secret ? { secret: toHex(secret) } : {}),
  };
}

const ALL_EXAMPLES = [...examples('encrypted-tests'), ...examples('enveloped-tests'), ...examples('X25519-tests'), ...examples('aes-wrap-examples')];

describe.each(suites)('the COSE examples with $name', (suite) => {
  it.each(ALL_EXAMPLES)('%s', (name, example) => {
    const outcome = openExample(suite, example);
    if (name.includes('-fail-')) {
      expect(outcome.plaintext).toBeUndefined();
      expect(outcome.refused).toBeDefined();
      return;
    }
    expect(outcome).toMatchObject({ plaintext: example.input.plaintext });
    const expected = example.intermediates;
    if (expected?.CEK_hex) expect(outcome.cek).toBe(expected.CEK_hex.toLowerCase());
    if (expected?.AAD_hex) expect(outcome.aad).toBe(expected.AAD_hex.toLowerCase());
    const recipient = expected?.recipients?.[0];
    if (recipient?.Context_hex) expect(outcome.context).toBe(recipient.Context_hex.toLowerCase());
    if (recipient?.Secret_hex) expect(outcome.secret).toBe(recipient.Secret_hex.toLowerCase());
  });
});

describe('the two suites seal for each other', () => {
  it.each([
    [nodeSuite, nobleSuite],
    [nobleSuite, nodeSuite],
  ])('%s seals, the other opens (one recipient and three), and the answer comes back', (sealer, opener) => {
    const people = [1, 2, 3].map((n) => {
      const secret = new Uint8Array(32).fill(n + 40);
      const publicKey = sealer.x25519PublicKey(secret);
      return { secret, recipient: { kid: new Uint8Array(8).fill(n), kidHex: toHex(new Uint8Array(8).fill(n)), agreementKey: publicKey } };
    });
    const aad = (): Uint8Array => Uint8Array.of(0x83, 0x02, 0x80, 0x00);
    const message = new TextEncoder().encode('the combination is 12-34-56');
    for (const count of [1, 3]) {
      const sealed = seal(sealer, people.slice(0, count).map((p) => p.recipient), message, aad, { answers: true });
      const parts = readSealed(sealed.bytes);
      if (!parts.ok) throw new Error(parts.reason);
      for (const person of people.slice(0, count)) {
        const opened = open(opener, { kid: person.recipient.kid, agree: opener.agreement(person.secret) }, parts.parts, aad, true);
        expect(opened.ok && new TextDecoder().decode(opened.plaintext)).toBe('the combination is 12-34-56');
        if (count === 1 && opened.ok) {
          // Both ends derived the same answer keys.
          const answer = sealAnswer(opener, opened.answerKeys!, 0, message, aad());
          const answerParts = readSealed(answer);
          if (!answerParts.ok) throw new Error(answerParts.reason);
          expect(openAnswer(sealer, sealed.answerKeys!, answerParts.parts, aad()).ok).toBe(true);
        }
      }
    }
  });
});

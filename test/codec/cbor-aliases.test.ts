/**
 * Resource aliases of compact CBOR version 2 (shared/JSTP.md): round trips over one
 * link in both directions (restarted in the middle), who may alias toward whom, the
 * 255-entry table, an unknown alias, healing a lost definition on a lossy link, and
 * the trie that remembers aliased resources staying bounded.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Decoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CborDecodeError, decodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { openLink, REDEFINE_EVERY_MS, REDEFINE_EVERY_USES } from '../../gateway/jstp/codec/cbor-link.js';
import { unrestorable, type LinkCodec, type LinkCodecOptions } from '../../gateway/jstp/codec/codec.js';
import { createDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { anyDispatch, jsonShape, regularDispatch } from './arbitraries.js';

const TX = '3f0c9a52-8d4e-4c1b-9e7a-2b5d6f8a1c03';

/** A few resources, so a sequence repeats them (a sensor's link does). */
const POOL: (string | number)[][] = [
  ['devices', 'kitchen', 'properties', 'temperature'],
  ['devices', 'kitchen', 'properties', 'humidity'],
  ['devices', 'rover', 'actions', 'move'],
  ['properties', 'battery'],
  ['sensors', 7],
  ['sensors', '7'],
  ['x'],
];

/** A regular dispatch on a resource of the pool; half of them reports (no transaction), as a sensor sends. */
const pooled = fc.tuple(regularDispatch, fc.nat({ max: POOL.length - 1 }), fc.boolean()).map(([d, i, report]) => {
  const { token, ...rest } = d;
  return { ...rest, resource: [...POOL[i]!], ...(report || token === undefined ? {} : { token }) } as Dispatch;
});
const linkDispatch = fc.oneof({ weight: 5, arbitrary: pooled }, { weight: 1, arbitrary: anyDispatch });

type Step = { kind: 'send'; from: 'a' | 'b'; dispatch: Dispatch } | { kind: 'restart' };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant('send' as const), from: fc.constantFrom('a' as const, 'b' as const), dispatch: linkDispatch }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

function patch(resource: (string | number)[], value: number, token?: string): Dispatch {
  return createDispatch('PATCH', resource, { timestamp: 1_700_000_000_000 + value, body: { value }, ...(token ? { token: [token] } : {}) });
}

describe('resource aliases over one link', () => {
  for (const [name, options] of [
    ['a connection (client offers, server answers)', [{ offerAliases: true }, {}]],
    ['a framed link (both offer, lossy)', [{ offerAliases: true, lossy: true }, { offerAliases: true, lossy: true }]],
  ] as Array<[string, [LinkCodecOptions, LinkCodecOptions]]>) {
    it(`${name}: random dispatches both ways, restarted in the middle, all come back equal (property)`, () => {
      const totals = { definitions: 0, uses: 0, restarts: 0 };
      fc.assert(
        fc.property(fc.array(step, { minLength: 20, maxLength: 80, size: 'max' }), (steps) => {
          let a = openLink(options[0]);
          let b = openLink(options[1]);
          const count = (): void => {
            for (const end of [a, b]) {
              const stats = end.stats();
              totals.definitions += stats.definitionsReceived;
              totals.uses += stats.usesReceived;
              expect(stats.unknownAliases).toBe(0);
            }
          };
          for (const s of steps) {
            if (s.kind === 'restart') {
              // A new connection: both ends start empty.
              count();
              totals.restarts++;
              a = openLink(options[0]);
              b = openLink(options[1]);
              continue;
            }
            const [sender, receiver] = s.from === 'a' ? [a, b] : [b, a];
            expect(receiver.decode(sender.encode(s.dispatch))).toEqual(jsonShape(s.dispatch));
          }
          count();
        }),
        { numRuns: 200, seed: 1313 },
      );
      // The sequences exercised every part: definitions, uses, restarts.
      expect(totals.definitions).toBeGreaterThan(500);
      expect(totals.uses).toBeGreaterThan(500);
      expect(totals.restarts).toBeGreaterThan(50);
    });
  }

  it('aliases toward a peer only after it sent key 9, and tells the peer once (key 9 = 0)', () => {
    const server = openLink();
    const plainPeer = openLink();
    const d = patch(POOL[0]!, 1);
    // The peer never sent key 9: the server writes the plain form, as stateless encoding does.
    for (let i = 0; i < 3; i++) {
      const bytes = server.encode(patch(POOL[0]!, i));
      expect(Buffer.from(bytes).toString('hex')).not.toMatch(/09(00|01)$/);
      expect(plainPeer.decode(bytes)).toEqual(jsonShape(patch(POOL[0]!, i)));
    }
    expect(server.stats()).toMatchObject({ peerAccepts: false, definitionsSent: 0, usesSent: 0 });

    const client = openLink({ offerAliases: true });
    const first = client.encode(createDispatch('GET', ['x'], { timestamp: 1, token: [TX] }));
    expect(first[first.length - 2]).toBe(0x09);
    expect(first[first.length - 1]).toBe(0x00);
    // Once is enough on a connection.
    const second = client.encode(createDispatch('GET', ['x'], { timestamp: 2 }));
    expect(second.includes(0x09)).toBe(false);

    server.decode(first);
    expect(server.stats().peerAccepts).toBe(true);
    const defined = server.encode(d);
    const used = server.encode(patch(POOL[0]!, 2));
    expect(used.length).toBeLessThan(defined.length - 40);
    expect(client.decode(defined)).toEqual(jsonShape(d));
    expect(client.decode(used)).toEqual(jsonShape(patch(POOL[0]!, 2)));
    // The client learns the server accepts too, and aliases its own requests.
    const request = createDispatch('POST', ['devices', 'coffee', 'actions', 'brew'], { timestamp: 3, token: [TX], body: {} });
    expect(server.decode(client.encode(request))).toEqual(jsonShape(request));
    const again = client.encode({ ...request, timestamp: 4 });
    expect(server.decode(again)).toEqual(jsonShape({ ...request, timestamp: 4 }));
    expect(client.stats()).toMatchObject({ peerAccepts: true, definitionsSent: 1, usesSent: 1 });
  });

  it('gives no alias to answers or to resources too short to gain from one', () => {
    const [a, b] = acceptingPair();
    const answer = { protocol: ['JSTP', '0.5'], method: 'ANSWER', resource: [200, TX, TX], timestamp: 1 } as Dispatch;
    for (let i = 0; i < 3; i++) {
      b.decode(a.encode(answer));
      b.decode(a.encode(patch(['x'], i)));
    }
    expect(a.stats()).toMatchObject({ definitionsSent: 0, usesSent: 0 });
  });

  it('keeps at most 255 aliases, giving up the least recently used; the receiver keeps all 255', () => {
    const [a, b] = acceptingPair();
    const resources = Array.from({ length: 300 }, (_, i) => ['devices', `d${i}`, 'properties', 'temperature']);
    const aliasOf = (bytes: Uint8Array): number => {
      const decoded = new Map(Object.entries(rawKeys(bytes)));
      return decoded.get('9') as number;
    };
    const seen = new Set<number>();
    for (const [i, resource] of resources.slice(0, 255).entries()) {
      const bytes = a.encode(patch(resource, i));
      seen.add(aliasOf(bytes));
      b.decode(bytes);
    }
    expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 255 }, (_, i) => i + 1));
    // Every one of the 255 is used, not defined again: the receiver kept them all.
    for (const [i, resource] of resources.slice(0, 255).entries()) expect(b.decode(a.encode(patch(resource, i)))).toEqual(jsonShape(patch(resource, i)));
    expect(a.stats()).toMatchObject({ definitionsSent: 255, usesSent: 255 });
    expect(b.stats()).toMatchObject({ definitionsReceived: 255, usesReceived: 255, unknownAliases: 0 });

    // Resource 0 is used once more; the 256th then takes the least recently used alias: resource 1's.
    const alias0 = aliasOf(a.encode(patch(resources[0]!, 0)));
    const takeover = a.encode(patch(resources[255]!, 255));
    const alias1 = aliasOf(takeover);
    expect(alias1).not.toBe(alias0);
    expect(alias1).toBeGreaterThanOrEqual(1);
    expect(alias1).toBeLessThanOrEqual(255);
    expect(b.decode(takeover)).toEqual(jsonShape(patch(resources[255]!, 255)));
    // Resource 1 lost its alias, so it is defined again, and reads back as itself.
    const back = a.encode(patch(resources[1]!, 1));
    expect(rawKeys(back)).toHaveProperty('2');
    expect(b.decode(back)).toEqual(jsonShape(patch(resources[1]!, 1)));
    for (let i = 256; i < 300; i++) expect(b.decode(a.encode(patch(resources[i]!, i)))).toEqual(jsonShape(patch(resources[i]!, i)));
    expect(b.stats().unknownAliases).toBe(0);
  });

  it('refuses an alias the peer never defined, with the rest of the dispatch, and counts it', () => {
    const [a] = acceptingPair();
    a.encode(patch(POOL[0]!, 0)); // defines alias 1 toward a peer that is not listening
    const use = a.encode(patch(POOL[0]!, 1, TX));
    const stranger = openLink();
    let refused: unknown;
    try {
      stranger.decode(use);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(CborDecodeError);
    expect((refused as CborDecodeError).reason).toBe('unknown-alias');
    const rest = unrestorable(refused);
    expect(rest?.message).toBe('unknown resource alias 1');
    expect(rest?.partial).toMatchObject({ method: 'PATCH', token: [TX], body: { value: 1 } });
    expect(rest?.partial).not.toHaveProperty('resource');
    expect(stranger.stats().unknownAliases).toBe(1);
    // The stateless decoder has no table at all.
    expect(() => decodeDispatch(use)).toThrow(/unknown resource alias 1/);
  });

  it('reset forgets both tables and what the peer accepts', () => {
    const [a, b] = acceptingPair();
    b.decode(a.encode(patch(POOL[0]!, 0)));
    b.decode(a.encode(patch(POOL[0]!, 1)));
    a.reset();
    b.reset();
    expect(a.stats().peerAccepts).toBe(false);
    // Back to the start: an offer (key 9 = 0) with the whole resource.
    const plain = a.encode(patch(POOL[0]!, 2));
    expect(rawKeys(plain)).toMatchObject({ '2': POOL[0], '9': 0 });
    expect(b.decode(plain)).toEqual(jsonShape(patch(POOL[0]!, 2)));
    expect(() => b.decode(Uint8Array.of(0xa2, 0x01, 0x06, 0x09, 0x01))).toThrow(/unknown resource alias/);
  });

  it('on a lossy link, defines an alias again every 16 sends and every 10 s, and keeps requests whole', () => {
    let now = 0;
    const a = openLink({ lossy: true, now: () => now });
    a.decode(openLink({ offerAliases: true }).encode(patch(['y'], 0))); // the peer offered
    const defines = (bytes: Uint8Array) => Object.hasOwn(rawKeys(bytes), '2');
    const forms = Array.from({ length: 40 }, (_, i) => defines(a.encode(patch(POOL[0]!, i))));
    const definitionsAt = forms.flatMap((defined, i) => (defined ? [i] : []));
    expect(definitionsAt).toEqual([0, REDEFINE_EVERY_USES, 2 * REDEFINE_EVERY_USES]);
    now += REDEFINE_EVERY_MS;
    expect(defines(a.encode(patch(POOL[0]!, 40)))).toBe(true);
    expect(defines(a.encode(patch(POOL[0]!, 41)))).toBe(false);
    // A request is never a bare use: losing a definition must not fail a caller.
    expect(defines(a.encode(patch(POOL[0]!, 42, TX)))).toBe(true);
    expect(defines(a.encode(patch(POOL[0]!, 43)))).toBe(false);
  });

  it('forgets the resources whose alias it gave up: 100k distinct resources through one link stay bounded', () => {
    const [a, b] = acceptingPair();
    collect();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      const resource = ['devices', `device-${i}`, 'properties', `p${i % 7}`];
      b.decode(a.encode(patch(resource, i)));
    }
    collect();
    const growth = process.memoryUsage().heapUsed - before;
    expect(a.stats().definitionsSent).toBe(100_000);
    // Each kept resource is a few small objects; 255 of them, not 100k.
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  });
});

/** Two ends that both accept aliases, as after a client's offer was answered. */
function acceptingPair(): [LinkCodec, LinkCodec] {
  const a = openLink({ offerAliases: true });
  const b = openLink({ offerAliases: true });
  b.decode(a.encode(patch(['hello'], 0)));
  a.decode(b.encode(patch(['hello'], 0)));
  return [a, b];
}

/** The top-level integer and text keys of an encoded dispatch, read by cbor-x (an independent reader). */
function rawKeys(bytes: Uint8Array): Record<string, unknown> {
  return Object.fromEntries(reader.decode(bytes) as Map<unknown, unknown>);
}

const readerOptions = { useRecords: false, mapsAsObjects: false, int64AsNumber: true };
const reader = new Decoder(readerOptions);

/** A full collection, so heap figures count what is kept, not garbage. */
function collect(): void {
  v8.setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

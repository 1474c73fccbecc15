import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { CborSequenceDecoder, type SequenceItem } from '../../gateway/jstp/codec/cbor-sequence.js';
import { createDispatch } from '../../gateway/jstp/dispatch.js';
import { anyDispatch, jsonShape } from './arbitraries.js';

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const unhex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

function values(items: SequenceItem[]): unknown[] {
  return items.map((item) => {
    if (!item.ok) throw item.error;
    return item.value;
  });
}

describe('CborSequenceDecoder', () => {
  const dispatches = [0, 1, 2].map((i) => createDispatch('PATCH', ['devices', `d${i}`], { timestamp: i, body: { value: i + 0.5 } }));
  const stream = concat(dispatches.map(encodeDispatch));

  it('yields every dispatch of one chunk, in order', () => {
    const decoder = new CborSequenceDecoder();
    expect(values(decoder.push(stream))).toEqual(dispatches.map(jsonShape));
    expect(decoder.buffered).toBe(0);
  });

  it('reassembles dispatches fed one byte at a time', () => {
    const decoder = new CborSequenceDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...values(decoder.push(stream.subarray(i, i + 1))));
    expect(out).toEqual(dispatches.map(jsonShape));
  });

  it('handles any split of any dispatches (property)', () => {
    fc.assert(
      fc.property(fc.array(anyDispatch, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (list, cuts) => {
        const bytes = concat(list.map(encodeDispatch));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const decoder = new CborSequenceDecoder();
        const out: unknown[] = [];
        let from = 0;
        for (const point of [...points, bytes.length]) {
          out.push(...values(decoder.push(bytes.subarray(from, point))));
          from = point;
        }
        expect(out).toEqual(list.map(jsonShape));
        expect(decoder.buffered).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('reports a bad item that is still well-formed and goes on', () => {
    // a map with unknown header key 10 between two good dispatches
    const bad = unhex('a1 0a 00');
    const decoder = new CborSequenceDecoder();
    const items = decoder.push(concat([encodeDispatch(dispatches[0]!), bad, encodeDispatch(dispatches[1]!)]));
    expect(items.map((item) => item.ok)).toEqual([true, false, true]);
    const failure = items[1]!;
    expect(!failure.ok && failure.fatal).toBe(false);
    expect(!failure.ok && failure.error.reason).toBe('bad-key');
    expect(decoder.failed).toBeUndefined();
  });

  it('stops at malformed CBOR, keeping what came before, and refuses more input', () => {
    const decoder = new CborSequenceDecoder();
    const items = decoder.push(concat([encodeDispatch(dispatches[0]!), unhex('a1 06 c1 00'), encodeDispatch(dispatches[1]!)]));
    expect(items).toHaveLength(2);
    expect(items[0]!.ok).toBe(true);
    const failure = items[1]!;
    expect(!failure.ok && failure.fatal).toBe(true);
    expect(!failure.ok && failure.error.reason).toBe('unsupported');
    expect(decoder.failed?.reason).toBe('unsupported');
    expect(() => decoder.push(encodeDispatch(dispatches[2]!))).toThrow(/tag/);
  });

  it('refuses an item over the size limit without buffering past it', () => {
    const limit = 1000;
    const decoder = new CborSequenceDecoder({ limits: { maxBytes: limit } });
    const big = encodeDispatch(createDispatch('POST', ['x'], { timestamp: 0, body: 'z'.repeat(5000) }));
    const items: SequenceItem[] = [];
    let pushed = 0;
    for (let i = 0; i < big.length && items.length === 0; i += 100) {
      items.push(...decoder.push(big.subarray(i, i + 100)));
      pushed += 100;
      expect(decoder.buffered).toBeLessThanOrEqual(limit);
    }
    expect(items).toHaveLength(1);
    const failure = items[0]!;
    // the string's declared length gives it away before its bytes arrive
    expect(!failure.ok && failure.error.reason).toBe('too-large');
    expect(pushed).toBe(100);

    // a body made of many small items is caught when it reaches the limit
    const many = new CborSequenceDecoder({ limits: { maxBytes: limit } });
    const list = encodeDispatch(createDispatch('POST', ['x'], { timestamp: 0, body: Array.from({ length: 3000 }, () => 1) }));
    let result: SequenceItem[] = [];
    for (let i = 0; i < list.length && result.length === 0; i += 7) {
      result = many.push(list.subarray(i, i + 7));
      expect(many.buffered).toBeLessThanOrEqual(limit);
    }
    expect(result.length > 0 && !result[0]!.ok && result[0]!.error.reason).toBe('too-large');
  });

  it('refuses an item over the limit even when one chunk holds all of it', () => {
    const decoder = new CborSequenceDecoder({ limits: { maxBytes: 1000 } });
    const big = encodeDispatch(createDispatch('POST', ['x'], { timestamp: 0, body: Array.from({ length: 400 }, () => 'abcd') }));
    expect(big.length).toBeGreaterThan(1000);
    const items = decoder.push(concat([encodeDispatch(dispatches[0]!), big]));
    expect(items.map((item) => item.ok)).toEqual([true, false]);
    expect(!items[1]!.ok && items[1]!.error.reason).toBe('too-large');
  });

  it('takes linear time for a large item arriving one byte at a time', () => {
    const body = Array.from({ length: 12_000 }, (_, i) => i % 7);
    const bytes = encodeDispatch(createDispatch('POST', ['x'], { timestamp: 0, body }));
    expect(bytes.length).toBeGreaterThan(12_000);
    const decoder = new CborSequenceDecoder();
    const started = performance.now();
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...values(decoder.push(bytes.subarray(i, i + 1))));
    // a rescan per byte would be ~10^8 steps; resuming keeps this well under a second
    expect(performance.now() - started).toBeLessThan(2000);
    expect((out[0] as { body: unknown }).body).toEqual(body);
  });
});

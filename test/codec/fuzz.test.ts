/**
 * Seeded fuzzing of the decoders with random and mutated input: only CborDecodeError
 * may escape, nothing hangs, buffers stay within their limits and the heap does not
 * grow without bound. Summary counts are printed for the record.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CborDecodeError, decodeDispatch, DEFAULT_CBOR_LIMITS, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { CborSequenceDecoder } from '../../gateway/jstp/codec/cbor-sequence.js';
import { openLink } from '../../gateway/jstp/codec/cbor-link.js';
import { FramedDispatchLink } from '../../gateway/jstp/codec/framed-link.js';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';
import { cobsMaxLength } from '../../gateway/jstp/codec/cobs.js';
import { FrameDecoder, FrameEncoder } from '../../gateway/jstp/codec/frames.js';
import { validateDispatch } from '../../gateway/jstp/dispatch.js';
import { encodeTextKeyed } from '../support/text-key-cbor.js';
import { anyDispatch } from './arbitraries.js';
import { prng } from '../support/prng.js';

/** Random and mutated inputs per decoder (the issue asks for 100k). */
const FUZZ_CASES = 100_000;


// Bytes that start troublesome heads: huge lengths, indefinite lengths, tags, floats, breaks.
const INTERESTING = [0x00, 0x17, 0x18, 0x1b, 0x1f, 0x3b, 0x5b, 0x5f, 0x7b, 0x7f, 0x9b, 0x9f, 0xbb, 0xbf, 0xc2, 0xc3, 0xd8, 0xdb, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff];

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let bytes = Array.from(input);
  const int = (n: number) => Math.floor(random() * n);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(bytes.length + 1);
    switch (int(8)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at % bytes.length]! ^= 1 << int(8);
        break;
      case 1: // an interesting byte
        if (bytes.length > 0) bytes[at % bytes.length] = INTERESTING[int(INTERESTING.length)]!;
        break;
      case 2: // random bytes in
        bytes.splice(at, 0, ...Array.from({ length: 1 + int(8) }, () => int(256)));
        break;
      case 3: // a range out
        bytes.splice(at, 1 + int(16));
        break;
      case 4: // truncate
        bytes = bytes.slice(0, at);
        break;
      case 5: { // repeat a range (deep nesting, duplicate keys)
        const length = 1 + int(12);
        const piece = bytes.slice(at, at + length);
        for (let k = int(40); k > 0; k--) bytes.splice(at, 0, ...piece);
        break;
      }
      case 6: // a head declaring an enormous length
        bytes.splice(at, 0, INTERESTING[9 + int(6)]!, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        break;
      default: // random byte
        if (bytes.length > 0) bytes[at % bytes.length] = int(256);
    }
  }
  return Uint8Array.from(bytes);
}

function randomBytes(random: () => number, max: number): Uint8Array {
  const bytes = new Uint8Array(Math.floor(random() * max));
  for (let i = 0; i < bytes.length; i++) bytes[i] = random() * 256;
  return bytes;
}

const corpus: Uint8Array[] = (() => {
  const dispatches = fc.sample(anyDispatch, { numRuns: 80, seed: 7 });
  return [...dispatches.map(encodeDispatch), ...dispatches.slice(0, 20).map(encodeTextKeyed)].map((b) => Uint8Array.from(b));
})();

/**
 * What aliasing links write: the same dispatches sent twice on a connection whose
 * peer accepts aliases (an offer, definitions, uses), and the link that reads them.
 */
function aliasedCorpus(dispatches: readonly Dispatch[]): { items: Uint8Array[]; reader: ReturnType<typeof openLink> } {
  const writer = openLink({ offerAliases: true });
  const reader = openLink();
  const peer = openLink({ offerAliases: true });
  writer.decode(peer.encode(dispatches[0]!));
  const items: Uint8Array[] = [];
  for (const d of [...dispatches, ...dispatches]) {
    const bytes = Uint8Array.from(writer.encode(d));
    reader.decode(bytes);
    items.push(bytes);
  }
  return { items, reader };
}

function heapMB(): number {
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

describe('fuzzing (seeded)', () => {
  it('CBOR decoder and sequence decoder: 100k random and mutated inputs', () => {
    const random = prng(0xc0ffee);
    const reasons: Record<string, number> = {};
    let ok = 0;
    let validated = 0;
    const heapBefore = heapMB();
    let sequence = new CborSequenceDecoder();
    const sequenceCounts = { items: 0, itemErrors: 0, fatal: 0 };
    let maxBuffered = 0;

    for (let i = 0; i < FUZZ_CASES; i++) {
      const input = random() < 0.2
        ? randomBytes(random, 300)
        : mutate(corpus[Math.floor(random() * corpus.length)]!, random);
      try {
        const decoded = decodeDispatch(input);
        ok++;
        JSON.stringify(decoded);
        if (validateDispatch(decoded).ok) validated++;
      } catch (error) {
        if (!(error instanceof CborDecodeError)) throw new Error(`input ${Buffer.from(input).toString('hex')} threw ${String(error)}`);
        reasons[error.reason] = (reasons[error.reason] ?? 0) + 1;
      }

      // the same bytes as a stream, in random pieces
      let from = 0;
      while (from < input.length) {
        const to = from + 1 + Math.floor(random() * 64);
        let items;
        try {
          items = sequence.push(input.subarray(from, to));
        } catch (error) {
          throw new Error(`sequence push threw ${String(error)}`);
        }
        for (const item of items) {
          if (item.ok) sequenceCounts.items++;
          else if (item.fatal) sequenceCounts.fatal++;
          else sequenceCounts.itemErrors++;
        }
        maxBuffered = Math.max(maxBuffered, sequence.buffered);
        if (sequence.failed) sequence = new CborSequenceDecoder();
        from = to;
      }
    }
    const heapGrowth = heapMB() - heapBefore;
    console.log(JSON.stringify({ fuzz: 'cbor', inputs: FUZZ_CASES, decoded: ok, validated, reasons, sequence: sequenceCounts, heapGrowthMB: Math.round(heapGrowth) }));
    expect(ok).toBeGreaterThan(1000);
    expect(validated).toBeGreaterThan(500);
    expect(Object.keys(reasons).length).toBeGreaterThanOrEqual(8);
    expect(sequenceCounts.items).toBeGreaterThan(1000);
    expect(sequenceCounts.fatal).toBeGreaterThan(1000);
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_CBOR_LIMITS.maxBytes);
    expect(heapGrowth).toBeLessThan(64);
  }, 120_000);

  it('link decoder over aliased streams: 100k mutated items, only decode errors, its table stays bounded', () => {
    const random = prng(0xa11a5);
    const { items, reader } = aliasedCorpus(fc.sample(anyDispatch, { numRuns: 80, seed: 9 }));
    const reasons: Record<string, number> = {};
    let ok = 0;
    const heapBefore = heapMB();
    for (let i = 0; i < FUZZ_CASES; i++) {
      const input = mutate(items[Math.floor(random() * items.length)]!, random);
      try {
        JSON.stringify(reader.decode(input));
        ok++;
      } catch (error) {
        if (!(error instanceof CborDecodeError)) throw new Error(`input ${Buffer.from(input).toString('hex')} threw ${String(error)}`);
        reasons[error.reason] = (reasons[error.reason] ?? 0) + 1;
      }
    }
    const heapGrowth = heapMB() - heapBefore;
    const stats = reader.stats();
    console.log(JSON.stringify({ fuzz: 'cbor-link', inputs: FUZZ_CASES, decoded: ok, reasons, stats, heapGrowthMB: Math.round(heapGrowth) }));
    expect(ok).toBeGreaterThan(1000);
    expect(reasons['unknown-alias']).toBeGreaterThan(0);
    expect(reasons['bad-alias']).toBeGreaterThan(0);
    expect(stats.usesReceived).toBeGreaterThan(1000);
    expect(heapGrowth).toBeLessThan(64);
  }, 120_000);

  it('framed links over aliased streams: 20k mutated frame streams, only counted drops and refusals', () => {
    const random = prng(0xf4a3e6);
    const dispatches = fc.sample(anyDispatch, { numRuns: 60, seed: 11 });
    const counts = { dispatches: 0, refused: 0, undecodable: 0 };
    const reader = new FramedDispatchLink({
      write: () => undefined,
      onDispatch: () => void counts.dispatches++,
      onRefused: () => void counts.refused++,
      onUndecodable: (error) => {
        if (!(error instanceof CborDecodeError)) throw error;
        counts.undecodable++;
      },
    });
    const writer = new FramedDispatchLink({ write: () => undefined, offerAliases: true, onDispatch: () => undefined, onUndecodable: () => undefined });
    writer.receive(new FramedDispatchLink({ write: () => undefined, offerAliases: true, onDispatch: () => undefined, onUndecodable: () => undefined }).frame(dispatches[0]!));
    for (let i = 0; i < FUZZ_CASES / 5; i++) {
      const frame = writer.frame(dispatches[Math.floor(random() * dispatches.length)]!);
      const roll = random();
      const bytes = roll < 0.5 ? frame : roll < 0.9 ? mutate(frame, random) : randomBytes(random, 200);
      let from = 0;
      while (from < bytes.length) {
        const to = from + 1 + Math.floor(random() * 20); // BLE-sized pieces
        reader.receive(bytes.subarray(from, to));
        from = to;
      }
      if (random() < 0.3) reader.receive(Uint8Array.of(0)); // a delimiter after damage resynchronises
    }
    console.log(JSON.stringify({ fuzz: 'framed-link', streams: FUZZ_CASES / 5, ...counts, frames: reader.counters, aliases: reader.aliasStats() }));
    expect(counts.dispatches).toBeGreaterThan(5000);
    expect(counts.refused).toBeGreaterThan(0);
    expect(reader.aliasStats().usesReceived).toBeGreaterThan(200);
  }, 120_000);

  it('frame decoder: 100k random and mutated frame streams', () => {
    const random = prng(0xf4a3e5);
    const decoders = [new FrameDecoder(), new FrameDecoder({ maxPayload: 64 })];
    const limits = [cobsMaxLength(4096 + 6), cobsMaxLength(64 + 6)];
    const maxBuffered = [0, 0];
    const encoder = new FrameEncoder();
    let payloads = 0;
    let dispatches = 0;
    let bytesIn = 0;
    const heapBefore = heapMB();

    for (let i = 0; i < FUZZ_CASES; i++) {
      const parts: Uint8Array[] = [];
      const frames = 1 + Math.floor(random() * 3);
      for (let f = 0; f < frames; f++) {
        const frame = encoder.encode(corpus[Math.floor(random() * corpus.length)]!);
        const roll = random();
        if (roll < 0.35) parts.push(frame);
        else if (roll < 0.8) parts.push(mutate(frame, random));
        else if (roll < 0.9) parts.push(randomBytes(random, 200));
        else parts.push(randomBytes(random, 6000).fill(0x55, 0, 4200)); // a long run with no delimiter
        if (random() < 0.1) encoder.encode(new Uint8Array(1)); // skip a sequence number
      }
      const stream = Uint8Array.from(Buffer.concat(parts));
      bytesIn += stream.length;
      for (let d = 0; d < decoders.length; d++) {
        const decoder = decoders[d]!;
        let from = 0;
        while (from < stream.length) {
          const to = from + 1 + Math.floor(random() * 300);
          for (const payload of decoder.push(stream.subarray(from, to))) {
            payloads++;
            try {
              decodeDispatch(payload);
              dispatches++;
            } catch (error) {
              if (!(error instanceof CborDecodeError)) throw error;
            }
          }
          if (decoder.buffered > limits[d]!) throw new Error(`frame decoder holds ${decoder.buffered} bytes, over ${limits[d]}`);
          maxBuffered[d] = Math.max(maxBuffered[d]!, decoder.buffered);
          from = to;
        }
      }
    }
    const heapGrowth = heapMB() - heapBefore;
    const [large, small] = decoders.map((d) => d.counters);
    console.log(JSON.stringify({ fuzz: 'frames', streams: FUZZ_CASES, bytesIn, payloads, dispatches, counters4096: large, counters64: small, maxBuffered, heapGrowthMB: Math.round(heapGrowth) }));
    expect(maxBuffered[1]).toBe(limits[1]);
    expect(large!.frames).toBeGreaterThan(10_000);
    expect(large!.droppedCrc).toBeGreaterThan(0);
    expect(large!.droppedCobs).toBeGreaterThan(0);
    expect(large!.droppedOversize).toBeGreaterThan(0);
    expect(large!.lost).toBeGreaterThan(0);
    expect(small!.droppedOversize).toBeGreaterThan(10_000);
    expect(heapGrowth).toBeLessThan(64);
  }, 120_000);
});

import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { cobsDecode, cobsEncode, cobsMaxLength } from '../../gateway/jstp/codec/cobs.js';
import { crc32 } from '../../gateway/jstp/codec/crc32.js';
import { FrameDecoder, FrameEncoder } from '../../gateway/jstp/codec/frames.js';
import { createDispatch } from '../../gateway/jstp/dispatch.js';
import { ErrorCode, PasarelaError } from '../../gateway/jstp/errors.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const unhex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const payload = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** A frame built by hand, so tests can give it any version, sequence or CRC. */
function rawFrame(version: number, sequence: number, cbor: Uint8Array, crcDelta = 0): Uint8Array {
  const body = concat([Uint8Array.of(version, sequence), cbor]);
  const crc = (crc32(body) + crcDelta) >>> 0;
  const trailer = Uint8Array.of(crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24);
  return concat([cobsEncode(concat([body, trailer])), Uint8Array.of(0)]);
}

describe('COBS', () => {
  // Vectors from the COBS paper's examples, as listed on Wikipedia.
  const vectors: Array<[string, string]> = [
    ['00', '0101'],
    ['0000', '010101'],
    ['001100', '01021101'],
    ['11220033', '03112202 33'],
    ['11223344', '0511223344'],
    ['11000000', '02110101 01'],
  ];
  for (const [input, output] of vectors) {
    it(`encodes ${input} as ${output}`, () => {
      expect(hex(cobsEncode(unhex(input)))).toBe(output.replace(/\s+/g, ''));
      expect(hex(cobsDecode(unhex(output))!)).toBe(input);
    });
  }

  it('handles 254- and 255-byte runs without zeros', () => {
    const run254 = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
    expect(hex(cobsEncode(run254))).toBe(`ff${hex(run254)}`);
    const run255 = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
    expect(hex(cobsEncode(run255))).toBe(`ff${hex(run255.subarray(0, 254))}02ff`);
    const zeroThen = concat([Uint8Array.of(0), run254]);
    expect(hex(cobsEncode(zeroThen))).toBe(`01ff${hex(run254)}`);
  });

  it('round-trips anything, never writes 0x00, stays within its bound (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (input) => {
        const encoded = cobsEncode(input);
        expect(encoded.includes(0)).toBe(false);
        expect(encoded.length).toBeLessThanOrEqual(cobsMaxLength(input.length));
        expect(hex(cobsDecode(encoded)!)).toBe(hex(input));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a block that runs past the end, or a zero inside', () => {
    expect(cobsDecode(unhex('05 1122'))).toBeUndefined();
    expect(cobsDecode(unhex('03 1100'))).toBeUndefined();
    expect(cobsDecode(unhex('00'))).toBeUndefined();
  });
});

describe('CRC-32', () => {
  it('matches the IEEE check value and zlib', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const zlibCrc = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
    if (zlibCrc) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
          expect(crc32(data)).toBe(zlibCrc(data));
        }),
        { numRuns: 200 },
      );
    }
  });
});

describe('frames', () => {
  const cbor = encodeDispatch(createDispatch('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { timestamp: 1, body: { value: 21.5 } }));

  it('carries a dispatch: version 1, sequence, CBOR, CRC-32 LE, then 0x00', () => {
    const encoder = new FrameEncoder();
    const frame = encoder.encode(cbor);
    expect(frame[frame.length - 1]).toBe(0);
    expect(frame.subarray(0, frame.length - 1).includes(0)).toBe(false);
    const raw = cobsDecode(frame.subarray(0, frame.length - 1))!;
    expect(raw[0]).toBe(1);
    expect(raw[1]).toBe(0);
    expect(hex(raw.subarray(2, raw.length - 4))).toBe(hex(cbor));
    expect(Buffer.from(raw.subarray(raw.length - 4)).readUInt32LE(0)).toBe(crc32(raw.subarray(0, raw.length - 4)));
    expect(hex(frame)).toBe(hex(rawFrame(1, 0, cbor)));
    expect(encoder.nextSequence).toBe(1);

    const decoder = new FrameDecoder();
    const [out] = decoder.push(frame);
    expect(decodeDispatch(out!)).toEqual(decodeDispatch(cbor));
    expect(decoder.counters).toEqual({ frames: 1, droppedCrc: 0, droppedCobs: 0, droppedOversize: 0, droppedVersion: 0, lost: 0 });
  });

  it('resynchronises at the next 0x00 after garbage', () => {
    const encoder = new FrameEncoder();
    const decoder = new FrameDecoder();
    const stream = concat([unhex('13 37 42 99 00'), encoder.encode(cbor), unhex('ff ff ff'), Uint8Array.of(0), encoder.encode(cbor)]);
    const out = decoder.push(stream);
    expect(out.map(hex)).toEqual([hex(cbor), hex(cbor)]);
    const counters = decoder.counters;
    expect(counters.frames).toBe(2);
    expect(counters.droppedCobs + counters.droppedCrc).toBe(2);
    expect(counters.lost).toBe(0);
  });

  it('loses a frame glued to garbage, then picks up the next one', () => {
    const encoder = new FrameEncoder();
    const decoder = new FrameDecoder();
    const out = decoder.push(concat([unhex('05 06 07'), encoder.encode(cbor), encoder.encode(cbor)]));
    expect(out).toHaveLength(1);
    expect(decoder.counters.droppedCobs + decoder.counters.droppedCrc).toBe(1);
    expect(decoder.counters.lost).toBe(0); // sequence 1 is the first good frame: the baseline
  });

  it('counts a bad CRC', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(rawFrame(1, 0, cbor, 1))).toEqual([]);
    expect(decoder.counters.droppedCrc).toBe(1);
    // a corrupted byte inside the CBOR as well
    const frame = new FrameEncoder().encode(cbor);
    frame[10] = frame[10] === 0x41 ? 0x42 : 0x41;
    expect(decoder.push(frame)).toEqual([]);
    expect(decoder.counters.droppedCrc + decoder.counters.droppedCobs).toBe(2);
    expect(decoder.counters.frames).toBe(0);
  });

  it('counts bad COBS and frames too short to hold a CRC', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(unhex('09 11 22 00'))).toEqual([]); // block runs past the end
    expect(decoder.push(unhex('03 01 02 00'))).toEqual([]); // 3 bytes: no room for CBOR and CRC
    expect(decoder.counters.droppedCobs).toBe(2);
    expect(decoder.push(unhex('00 00 00'))).toEqual([]); // empty frames are idle line, not errors
    expect(decoder.counters.droppedCobs).toBe(2);
  });

  it('counts an unknown version (with a good CRC)', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(rawFrame(2, 0, cbor))).toEqual([]);
    expect(decoder.counters.droppedVersion).toBe(1);
  });

  it('drops an oversize frame without buffering beyond the limit, then goes on', () => {
    const decoder = new FrameDecoder({ maxPayload: 1000 });
    const limit = cobsMaxLength(1006);
    const big = new FrameEncoder({ maxPayload: 10_000 }).encode(payload(5000));
    for (let i = 0; i < big.length; i += 64) {
      expect(decoder.push(big.subarray(i, i + 64))).toEqual([]);
      expect(decoder.buffered).toBeLessThanOrEqual(limit);
    }
    expect(decoder.counters.droppedOversize).toBe(1);
    // one byte over, with zeros so its encoding still fits the buffer: caught after decoding
    const near = new FrameEncoder({ maxPayload: 10_000, firstSequence: 1 }).encode(Uint8Array.from({ length: 1001 }, (_, i) => (i % 10 === 0 ? 0 : 7)));
    expect(near.length - 1).toBeLessThanOrEqual(limit);
    expect(decoder.push(near)).toEqual([]);
    expect(decoder.counters.droppedOversize).toBe(2);
    const good = new FrameEncoder({ firstSequence: 2 }).encode(payload(1000));
    expect(decoder.push(good).map(hex)).toEqual([hex(payload(1000))]);
    expect(decoder.counters).toMatchObject({ frames: 1, droppedCrc: 0, droppedCobs: 0 });
  });

  it('refuses to encode a payload over the limit', () => {
    let caught: unknown;
    try {
      new FrameEncoder({ maxPayload: 10 }).encode(payload(11));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PasarelaError);
    expect((caught as PasarelaError).code).toBe(ErrorCode.FrameTooLarge);
  });

  it('counts sequence gaps as lost: 3 then 6 is 2 lost', () => {
    const decoder = new FrameDecoder();
    decoder.push(rawFrame(1, 3, cbor));
    expect(decoder.counters.lost).toBe(0); // the first frame sets the baseline
    decoder.push(rawFrame(1, 6, cbor));
    expect(decoder.counters.lost).toBe(2);
    decoder.push(rawFrame(1, 7, cbor));
    decoder.push(rawFrame(1, 7, cbor)); // a repeat counts nothing
    expect(decoder.counters).toMatchObject({ frames: 4, lost: 2 });
  });

  it('wraps the sequence at 255 -> 0', () => {
    const encoder = new FrameEncoder({ firstSequence: 254 });
    const decoder = new FrameDecoder();
    const frames = [0, 1, 2, 3].map(() => encoder.encode(cbor));
    expect(encoder.nextSequence).toBe(2);
    expect(decoder.push(concat(frames))).toHaveLength(4);
    expect(decoder.counters.lost).toBe(0);
    decoder.push(rawFrame(1, 255, cbor)); // 1 -> 255: 253 missing
    expect(decoder.counters.lost).toBe(253);
    decoder.push(rawFrame(1, 1, cbor)); // 255 -> 1 across the wrap: 0 missing
    expect(decoder.counters.lost).toBe(254);
  });

  it('splits a frame over an MTU and reassembles it from the pieces', () => {
    const dispatch = encodeDispatch(createDispatch('POST', ['devices', 'coffee', 'actions', 'brew'], { timestamp: 9, body: { note: 'x'.repeat(300) } }));
    for (const mtu of [1, 20, 23, 185, 244, 1000]) {
      const encoder = new FrameEncoder();
      const whole = new FrameEncoder().encode(dispatch);
      const pieces = encoder.encodeChunks(dispatch, mtu);
      expect(pieces.every((piece) => piece.length <= mtu && piece.length > 0)).toBe(true);
      expect(pieces).toHaveLength(Math.ceil(whole.length / mtu));
      expect(hex(concat(pieces))).toBe(hex(whole));
      const decoder = new FrameDecoder();
      const out = pieces.flatMap((piece, i) => {
        const got = decoder.push(piece);
        if (i < pieces.length - 1) expect(got).toEqual([]);
        return got;
      });
      expect(out.map(hex)).toEqual([hex(dispatch)]);
    }
    expect(() => new FrameEncoder().encodeChunks(dispatch, 0)).toThrow(RangeError);
  });

  it('delivers every frame of any chunking, in order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (payloads, cuts) => {
          const encoder = new FrameEncoder();
          const stream = concat(payloads.map((p) => encoder.encode(p)));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const decoder = new FrameDecoder();
          const out: Uint8Array[] = [];
          let from = 0;
          for (const point of [...points, stream.length]) {
            out.push(...decoder.push(stream.subarray(from, point)));
            from = point;
          }
          expect(out.map(hex)).toEqual(payloads.map(hex));
          expect(decoder.counters).toEqual({ frames: payloads.length, droppedCrc: 0, droppedCobs: 0, droppedOversize: 0, droppedVersion: 0, lost: 0 });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('returns payloads that do not change when more bytes arrive', () => {
    const decoder = new FrameDecoder();
    const encoder = new FrameEncoder();
    const [first] = decoder.push(encoder.encode(payload(50, 1)));
    decoder.push(encoder.encode(payload(50, 2)));
    expect(hex(first!)).toBe(hex(payload(50, 1)));
  });
});

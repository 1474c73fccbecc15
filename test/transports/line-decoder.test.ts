import { describe, expect, it } from 'vitest';
import { LineDecoder, encodeLine } from '../../gateway/jstp/codec/json.js';
import { createDispatch } from '../../gateway/jstp/dispatch.js';

function feed(decoder: LineDecoder, chunks: Uint8Array[]): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  for (const chunk of chunks) ok = decoder.push(chunk, (line) => lines.push(line)) && ok;
  return { lines, ok };
}

describe('LineDecoder', () => {
  const line = encodeLine(createDispatch('PATCH', ['devices', 'ñandú', 'properties', 'temperature'], { body: { value: 21.5, note: '€ ✓' } }));
  const bytes = Buffer.from(line);

  it('reassembles a dispatch fed one byte at a time, multi-byte UTF-8 included', () => {
    const decoder = new LineDecoder();
    const chunks = [...bytes].map((byte) => Uint8Array.of(byte));
    const { lines, ok } = feed(decoder, chunks);
    expect(ok).toBe(true);
    expect(lines).toEqual([line.slice(0, -1)]);
    expect(JSON.parse(lines[0]!).resource[1]).toBe('ñandú');
    expect(decoder.buffered).toBe(0);
  });

  it('yields 100 dispatches from one chunk, in order', () => {
    const many = Array.from({ length: 100 }, (_, i) => encodeLine(createDispatch('PATCH', ['n', i]))).join('');
    const { lines } = feed(new LineDecoder(), [Buffer.from(many)]);
    expect(lines.map((l) => JSON.parse(l).resource[1])).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('handles lines cut anywhere across chunks', () => {
    const text = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n');
    for (let cut = 1; cut < text.length; cut++) {
      const { lines } = feed(new LineDecoder(), [text.subarray(0, cut), text.subarray(cut)]);
      expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    }
  });

  it('drops the \\r of \\r\\n, even when the \\n comes in the next chunk, and skips empty lines', () => {
    const { lines } = feed(new LineDecoder(), [Buffer.from('{"a":1}\r'), Buffer.from('\n\r\n\n{"b":2}\r\n')]);
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('keeps an unfinished line until its terminator', () => {
    const decoder = new LineDecoder();
    expect(feed(decoder, [Buffer.from('{"a":')]).lines).toEqual([]);
    expect(decoder.buffered).toBe(5);
    expect(feed(decoder, [Buffer.from('1}\n')]).lines).toEqual(['{"a":1}']);
  });

  it('reports a line over the limit without buffering it, and stays failed', () => {
    const decoder = new LineDecoder({ maxLineBytes: 16 });
    expect(feed(decoder, [Buffer.from('{"ok":1}\n')]).lines).toEqual(['{"ok":1}']);
    const { lines, ok } = feed(decoder, [Buffer.from('{"first":1}\n' + 'x'.repeat(100))]);
    expect(lines).toEqual(['{"first":1}']);
    expect(ok).toBe(false);
    expect(decoder.overflowed).toBe(true);
    expect(decoder.buffered).toBe(0);
    expect(decoder.push(Buffer.from('{}\n'), () => {})).toBe(false);
  });

  it('detects a too long line that arrives in small pieces, before holding more than the limit', () => {
    const decoder = new LineDecoder({ maxLineBytes: 64 });
    let ok = true;
    let maxHeld = 0;
    for (let i = 0; i < 100 && ok; i++) {
      ok = decoder.push(Buffer.from('xxxxxxxx'), () => {});
      maxHeld = Math.max(maxHeld, decoder.buffered);
    }
    expect(ok).toBe(false);
    expect(maxHeld).toBeLessThanOrEqual(65);
  });

  it('accepts a line of exactly the limit, with or without \\r', () => {
    const body = 'y'.repeat(32);
    expect(feed(new LineDecoder({ maxLineBytes: 32 }), [Buffer.from(body + '\n')]).lines).toEqual([body]);
    expect(feed(new LineDecoder({ maxLineBytes: 32 }), [Buffer.from(body.slice(0, 10)), Buffer.from(body.slice(10) + '\r\n')]).lines).toEqual([body]);
    expect(feed(new LineDecoder({ maxLineBytes: 32 }), [Buffer.from(body + 'z\n')]).ok).toBe(false);
  });

  it('lines() returns the complete lines of a chunk', () => {
    const decoder = new LineDecoder();
    expect(decoder.lines(Buffer.from('a\nb\nc'))).toEqual(['a', 'b']);
    expect(decoder.lines(Buffer.from('\n'))).toEqual(['c']);
  });
});

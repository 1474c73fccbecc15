import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';

interface Vector {
  name: string;
  dispatch: Dispatch;
  hex: string;
}

const golden = JSON.parse(readFileSync(new URL('../fixtures/cbor-golden.json', import.meta.url), 'utf8')) as { vectors: Vector[] };

describe('golden compact CBOR vectors', () => {
  it('has the cases the spec cares about', () => {
    const methods = golden.vectors.map((v) => v.dispatch.method);
    expect(methods).toEqual(expect.arrayContaining(['PATCH', 'POST', 'BIND', 'ANSWER', 'RELEASE', 'GET']));
  });

  for (const vector of golden.vectors) {
    it(`encodes ${vector.name} to the recorded bytes`, () => {
      expect(Buffer.from(encodeDispatch(vector.dispatch)).toString('hex')).toBe(vector.hex);
    });

    it(`decodes ${vector.name} back to the dispatch`, () => {
      const decoded = decodeDispatch(new Uint8Array(Buffer.from(vector.hex, 'hex')));
      expect(decoded).toEqual(vector.dispatch);
      const validated = validateDispatch(decoded);
      expect(validated.ok).toBe(true);
      expect(validated.ok && validated.dispatch).toEqual(vector.dispatch);
    });
  }
});

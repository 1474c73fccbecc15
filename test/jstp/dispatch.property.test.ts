import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeDispatch, toWire, validateDispatch } from '../../gateway/jstp/dispatch.js';
import { anyDispatch } from '../support/dispatch-arbitraries.js';

describe('dispatch round trip (property)', () => {
  it('parse -> validate -> serialize gives back the same dispatch', () => {
    fc.assert(
      fc.property(anyDispatch, (dispatch) => {
        const text = serializeDispatch(dispatch);
        const result = validateDispatch(JSON.parse(text), 'strict');
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.repairs).toEqual([]);
        expect(JSON.parse(serializeDispatch(result.dispatch))).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('quirks mode accepts everything strict mode accepts, unchanged', () => {
    fc.assert(
      fc.property(anyDispatch, (dispatch) => {
        const raw = JSON.parse(serializeDispatch(dispatch));
        const strict = validateDispatch(raw, 'strict');
        const quirks = validateDispatch(raw, 'quirks');
        expect(quirks).toEqual(strict);
      }),
      { numRuns: 300 },
    );
  });
});

describe('serialization (property)', () => {
  it('writes exactly the JSON of the wire object, token: [] included', () => {
    fc.assert(
      fc.property(anyDispatch, fc.boolean(), (dispatch, clearToken) => {
        const subject = clearToken ? { ...dispatch, token: undefined } : dispatch;
        // Compared as parsed JSON on both sides: JSON has no -0.
        expect(JSON.parse(serializeDispatch(subject))).toEqual(JSON.parse(JSON.stringify(toWire(subject))));
        expect(JSON.parse(serializeDispatch(subject)).token).toEqual(subject.token ?? []);
      }),
      { numRuns: 300 },
    );
  });
});

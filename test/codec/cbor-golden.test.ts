import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch, encodeDispatchV1 } from '../../gateway/jstp/codec/cbor.js';
import { openLink } from '../../gateway/jstp/codec/cbor-link.js';
import { validateDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';

interface Vector {
  name: string;
  dispatch: Dispatch;
  hex: string;
  hexV1: string;
}

interface LinkStep {
  name: string;
  from: 'client' | 'gateway';
  dispatch: Dispatch;
  hex: string;
}

const golden = JSON.parse(readFileSync(new URL('../fixtures/cbor-golden.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
  link: { steps: LinkStep[] };
};
const bytesOf = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('golden compact CBOR vectors', () => {
  it('has the cases the spec cares about', () => {
    const methods = golden.vectors.map((v) => v.dispatch.method);
    expect(methods).toEqual(expect.arrayContaining(['PATCH', 'POST', 'BIND', 'ANSWER', 'RELEASE', 'GET']));
    // Both short forms of the protocol header: an integer (key 0 = 6) and an array [5, "pasarela"].
    expect(golden.vectors.some((v) => v.hex.startsWith('a7000601'))).toBe(true);
    expect(golden.vectors.some((v) => v.hex.includes('008205687061736172656c61'))).toBe(true);
  });

  for (const vector of golden.vectors) {
    it(`encodes ${vector.name} to the recorded bytes, in both versions`, () => {
      expect(hexOf(encodeDispatch(vector.dispatch))).toBe(vector.hex);
      expect(hexOf(encodeDispatchV1(vector.dispatch))).toBe(vector.hexV1);
    });

    it(`decodes ${vector.name} back to the dispatch, from both versions`, () => {
      for (const hex of [vector.hex, vector.hexV1]) {
        const decoded = decodeDispatch(bytesOf(hex));
        expect(decoded).toEqual(vector.dispatch);
        const validated = validateDispatch(decoded);
        expect(validated.ok).toBe(true);
        expect(validated.ok && validated.dispatch).toEqual(vector.dispatch);
      }
    });
  }

  it('one link: an offer, an alias definition and its use, byte for byte, and each end reads the other', () => {
    const steps = golden.link.steps;
    expect(steps.map((step) => step.from)).toEqual(['client', 'gateway', 'gateway']);
    const ends = { client: openLink({ offerAliases: true }), gateway: openLink() };
    for (const step of steps) {
      const bytes = ends[step.from].encode(step.dispatch);
      expect(hexOf(bytes), step.name).toBe(step.hex);
      const reader = step.from === 'client' ? ends.gateway : ends.client;
      expect(reader.decode(bytes)).toEqual(step.dispatch);
    }
    // The offer is key 9 = 0 (0x09 0x00); the definition carries key 2 and 9 = 1; the use has no key 2.
    expect(steps[0]!.hex.endsWith('0900')).toBe(true);
    expect(steps[1]!.hex).toContain('0284676465766963657367');
    expect(steps[1]!.hex.endsWith('0901')).toBe(true);
    expect(steps[2]!.hex).not.toContain('0284676465766963657367');
    expect(steps[2]!.hex.endsWith('0901')).toBe(true);
    expect(ends.client.stats()).toMatchObject({ peerAccepts: true, definitionsReceived: 1, usesReceived: 1 });
    expect(ends.gateway.stats()).toMatchObject({ peerAccepts: true, definitionsSent: 1, usesSent: 1 });
    // Without the definition the use names an unknown alias.
    expect(() => openLink().decode(bytesOf(steps[2]!.hex))).toThrow(/unknown resource alias 1/);
  });

  it('python3-cbor2 reads every vector as canonical CBOR', () => {
    const all = [...golden.vectors.flatMap((v) => [v.hex, v.hexV1]), ...golden.link.steps.map((step) => step.hex)];
    const script = 'import json, sys, cbor2\nprint(json.dumps([cbor2.dumps(cbor2.loads(bytes.fromhex(h)), canonical=True).hex() == h for h in json.load(sys.stdin)]))';
    const run = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(all), encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(all.map(() => true));
  });
});

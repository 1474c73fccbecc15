/**
 * Cross-checks the codec with an independent implementation: Debian's python3-cbor2
 * (apt package python3-cbor2), run with /usr/bin/python3 rather than whatever
 * python3 is first on PATH.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { openLink } from '../../gateway/jstp/codec/cbor-link.js';
import { FramedDispatchLink } from '../../gateway/jstp/codec/framed-link.js';
import { FrameDecoder } from '../../gateway/jstp/codec/frames.js';
import { createDispatch } from '../../gateway/jstp/dispatch.js';
import { validateDispatch } from '../../gateway/jstp/dispatch.js';
import { anyDispatch, jsonShape } from './arbitraries.js';

const PYTHON = '/usr/bin/python3';

function python(script: string, input: unknown): unknown {
  const run = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw run.error;
  if (run.status !== 0) {
    throw new Error(`python3 failed (is python3-cbor2 installed? apt-get install python3-cbor2):\n${run.stderr}`);
  }
  return JSON.parse(run.stdout);
}

// For each hex item: decode with cbor2, report the key types of the top-level map,
// the token element types, whether canonical re-encoding gives the same bytes, and
// whether the method is an integer.
const INSPECT = `
import json, sys, cbor2
out = []
for item in json.load(sys.stdin):
    data = bytes.fromhex(item)
    value = cbor2.loads(data)
    keys = list(value.keys())
    token = value.get(4)
    out.append({
        "intKeys": [k for k in keys if isinstance(k, int)],
        "textKeys": [k for k in keys if isinstance(k, str)],
        "keyOrder": [k if isinstance(k, int) else "t:" + k for k in keys],
        "methodIsInt": isinstance(value.get(1), int),
        "token": None if token is None else [("bytes:" + t.hex()) if isinstance(t, bytes) else t for t in token],
        "canonical": cbor2.dumps(value, canonical=True) == data,
    })
print(json.dumps(out))
`;

// Writes plain text-key CBOR of each JSON dispatch, as any CBOR library would.
const ENCODE = `
import json, sys, cbor2
print(json.dumps([cbor2.dumps(d).hex() for d in json.load(sys.stdin)]))
`;

describe('interop with python3-cbor2', () => {
  const dispatches = fc.sample(anyDispatch, { numRuns: 300, seed: 4242 });

  it('reads what we write: integer header keys, integer methods, byte-string UUIDs, canonical bytes', () => {
    const encoded = dispatches.map((d) => Buffer.from(encodeDispatch(d)).toString('hex'));
    const results = python(INSPECT, encoded) as Array<{
      intKeys: number[]; textKeys: string[]; keyOrder: Array<number | string>; methodIsInt: boolean;
      token: Array<string> | null; canonical: boolean;
    }>;
    expect(results).toHaveLength(dispatches.length);
    let uuids = 0;
    results.forEach((result, i) => {
      const d = dispatches[i]!;
      const shape = jsonShape(d);
      const known = ['protocol', 'method', 'resource', 'timestamp', 'token', 'host', 'body', 'endpoint', 'referer'];
      expect(result.intKeys).toEqual(known.map((name, key) => (name in shape ? key : -1)).filter((key) => key >= 0));
      expect(result.textKeys.sort()).toEqual(Object.keys(shape).filter((key) => !known.includes(key)).sort());
      expect(result.methodIsInt).toBe(true);
      expect(result.canonical, `item ${i} is not canonical: ${encoded[i]}`).toBe(true);
      if (d.token) {
        expect(result.token).toHaveLength(d.token.length);
        d.token.forEach((part, j) => {
          if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(part)) {
            expect(result.token![j]).toBe(`bytes:${part.replace(/-/g, '')}`);
            uuids++;
          } else {
            expect(result.token![j]).toBe(part);
          }
        });
      } else {
        expect(result.token).toBeNull();
      }
    });
    expect(uuids).toBeGreaterThan(50);
  });

  it('reads every dispatch of aliased streams: a connection and a framed link, both directions', () => {
    // A connection: the client offers, the gateway aliases its deliveries, the client its requests.
    const client = openLink({ offerAliases: true });
    const server = openLink();
    const items: string[] = [];
    const resources = [['devices', 'kitchen', 'properties', 'temperature'], ['devices', 'coffee', 'actions', 'brew'], ['gateway']];
    dispatches.slice(0, 150).forEach((d, i) => {
      const aliased = d.method === 'ANSWER' || d.endpoint ? d : { ...d, resource: resources[i % 3]! };
      const [from, to] = i % 2 === 0 ? [client, server] : [server, client];
      const bytes = from.encode(aliased);
      to.decode(bytes);
      items.push(Buffer.from(bytes).toString('hex'));
    });
    expect(client.stats().usesSent + server.stats().usesSent).toBeGreaterThan(20);
    // A framed link: every payload of the frames a device writes.
    const payloads = new FrameDecoder();
    const device = new FramedDispatchLink({ write: (frame) => payloads.push(frame).forEach((p) => items.push(Buffer.from(p).toString('hex'))), offerAliases: true, onDispatch: () => undefined, onUndecodable: () => undefined });
    device.receive(new FramedDispatchLink({ write: () => undefined, offerAliases: true, onDispatch: () => undefined, onUndecodable: () => undefined }).frame(createDispatch('GET', ['properties'], { timestamp: 1, token: ['0b7e5f0a-2c57-4e1f-8f0e-7d8f1d9e6a11'] })));
    for (let i = 0; i < 40; i++) device.send(createDispatch('PATCH', ['properties', i % 2 ? 'battery' : 'temperature'], { timestamp: i, body: { value: i / 4 } }));
    expect(device.aliasStats().usesSent).toBeGreaterThan(30);

    const script = `
import json, sys, cbor2
out = []
for item in json.load(sys.stdin):
    data = bytes.fromhex(item)
    value = cbor2.loads(data)
    out.append({"canonical": cbor2.dumps(value, canonical=True) == data, "alias": value.get(9), "resource": 2 in value})
print(json.dumps(out))
`;
    const results = python(script, items) as Array<{ canonical: boolean; alias: number | null; resource: boolean }>;
    expect(results).toHaveLength(items.length);
    expect(results.every((result) => result.canonical)).toBe(true);
    // Offers, definitions (alias and resource) and uses (alias, no resource) all appear.
    expect(results.some((result) => result.alias === 0)).toBe(true);
    expect(results.some((result) => (result.alias ?? 0) > 0 && result.resource)).toBe(true);
    expect(results.some((result) => (result.alias ?? 0) > 0 && !result.resource)).toBe(true);
  });

  it('decodes the text-key CBOR that cbor2 writes', () => {
    const json = dispatches.map((d) => JSON.parse(JSON.stringify(d)) as unknown);
    const encoded = python(ENCODE, json) as string[];
    expect(encoded).toHaveLength(dispatches.length);
    encoded.forEach((hex, i) => {
      const decoded = decodeDispatch(new Uint8Array(Buffer.from(hex, 'hex')));
      expect(decoded).toEqual(json[i]);
      expect(validateDispatch(decoded, 'strict', () => 0)).toEqual(validateDispatch(json[i], 'strict', () => 0));
    });
  });
});

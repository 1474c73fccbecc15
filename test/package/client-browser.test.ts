/**
 * `pasarela/client` (gateway/client.ts) in a browser bundle: it bundles for the
 * browser platform (no Node built-in, no Node dialer, no `ws`), and its CBOR codec,
 * imported on demand, lands in a chunk of its own that JSON pages never load.
 * test/package/pack.test.ts bundles the installed package's entry the same way.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleForBrowser, nodeOnlyParts } from '../support/browser-bundle.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the client in a browser bundle', () => {
  it('bundles without Node-only modules, with the CBOR codec split off', async () => {
    const bundle = await bundleForBrowser('gateway/client.ts', ROOT);
    expect(nodeOnlyParts(bundle)).toEqual([]);
    // The engine's Logger is an interface with a no-op default: no logging library comes along.
    expect(bundle.inputs.filter((input) => input.includes('node_modules/pino'))).toEqual([]);
    const entry = bundle.outputs.find((output) => output.entryPoint === 'gateway/client.ts');
    const codec = bundle.outputs.find((output) => output.entryPoint === 'gateway/jstp/codec/cbor-link.ts');
    expect(entry?.path).toBe('out/client.js');
    expect(codec?.path).toMatch(/^out\/cbor-link-[A-Z0-9]{8}\.js$/);
  });
});

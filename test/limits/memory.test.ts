/**
 * Cost per byte, in memory: what a subscription retains is a small multiple of the
 * BIND a peer sent for it. Measured in a child process of its own with --expose-gc
 * (test/limits/support/memory-probe.ts), so garbage collection can be forced and
 * nothing else of the test run sits in the heap. Targets from the issue: at most 8x
 * the wire bytes for random patterns up to the maximum size, at most 2 KB per small
 * subscription; both hold after matching, so nothing is built lazily and kept.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/pasarela.js';

interface Measure {
  subscriptions: number;
  wireBytes: number;
  retainedBytes: number;
  afterMatchingBytes: number;
}

async function probe(seed: number): Promise<{ large: Measure; small: Measure }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'test/limits/support/memory-probe.ts'), String(seed)], { cwd: ROOT, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { large: Measure; small: Measure };
}

describe('retained memory of subscriptions', () => {
  it('is at most 8x the wire bytes for random patterns up to the maximum size, and at most 2 KB per small subscription', async () => {
    const { large, small } = await probe(20);
    expect(large.subscriptions).toBeGreaterThan(4_500);
    expect(large.retainedBytes).toBeLessThanOrEqual(8 * large.wireBytes);
    expect(large.afterMatchingBytes).toBeLessThanOrEqual(8 * large.wireBytes);
    expect(small.subscriptions).toBe(5_000);
    expect(small.retainedBytes / small.subscriptions).toBeLessThanOrEqual(2048);
    expect(small.afterMatchingBytes / small.subscriptions).toBeLessThanOrEqual(2048);
    // The measure means something: the heap did grow by the subscriptions.
    expect(small.retainedBytes).toBeGreaterThan(small.subscriptions * 100);
  });
});

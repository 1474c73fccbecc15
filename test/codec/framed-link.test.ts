/**
 * A JSTP link over link frames with resource aliases, as a device and the gateway run
 * it: frames lost on the way (a lost definition heals within 16 uses), a device that
 * restarts, and a request that never depends on an earlier frame.
 */
import { describe, expect, it } from 'vitest';
import { REDEFINE_EVERY_USES } from '../../gateway/jstp/codec/cbor-link.js';
import { FramedDispatchLink } from '../../gateway/jstp/codec/framed-link.js';
import { createDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';

const REPORT = ['properties', 'temperature'];

interface End {
  link: FramedDispatchLink;
  received: Record<string, unknown>[];
  refused: { partial: Record<string, unknown>; reason: string }[];
}

/**
 * A device and a gateway joined by a wire that drops the frames `drop` picks (by the
 * order in which that direction sent them).
 */
function wired(drop: { toGateway?: (n: number) => boolean; toDevice?: (n: number) => boolean } = {}) {
  const sent = { toGateway: 0, toDevice: 0 };
  const end = (offerAliases: boolean, deliver: (bytes: Uint8Array) => void): End => {
    const e: End = { link: undefined as unknown as FramedDispatchLink, received: [], refused: [] };
    e.link = new FramedDispatchLink({
      write: deliver,
      offerAliases,
      onDispatch: (raw) => void e.received.push(raw),
      onUndecodable: (error) => {
        throw error;
      },
      onRefused: (partial, reason) => void e.refused.push({ partial, reason }),
    });
    return e;
  };
  const ends = {} as { device: End; gateway: End; reboot(): void };
  ends.device = end(true, (bytes) => {
    if (!drop.toGateway?.(sent.toGateway++)) ends.gateway.link.receive(bytes);
  });
  ends.gateway = end(false, (bytes) => {
    if (!drop.toDevice?.(sent.toDevice++)) ends.device.link.receive(bytes);
  });
  /** The device boots again: a fresh link on its side; the gateway hears of it (its announcement) and restarts its side. */
  ends.reboot = () => {
    const old = ends.device;
    ends.device = end(true, (bytes) => {
      if (!drop.toGateway?.(sent.toGateway++)) ends.gateway.link.receive(bytes);
    });
    old.link = ends.device.link;
    ends.gateway.link.restart();
  };
  return ends;
}

function report(value: number): Dispatch {
  return createDispatch('PATCH', REPORT, { timestamp: 1_700_000_000_000 + value, body: { value } });
}

describe('framed link with aliases', () => {
  it('shrinks the reports once both ends have said key 9', () => {
    const link = wired();
    const sizes: number[] = [];
    link.device.link.send(report(0));
    link.gateway.link.send(createDispatch('GET', ['description'], { timestamp: 1, token: ['0b7e5f0a-2c57-4e1f-8f0e-7d8f1d9e6a11'] }));
    for (let i = 1; i <= 3; i++) {
      const frame = link.device.link.frame(report(i));
      sizes.push(frame.length);
      link.gateway.link.receive(frame);
    }
    // Defined once, then used: the resource is gone from the frame.
    expect(sizes[0]).toBeGreaterThan(sizes[1]! + 20);
    expect(sizes[1]).toBe(sizes[2]);
    expect(link.gateway.received.map((d) => d.resource)).toEqual(Array(4).fill(REPORT));
    expect(link.device.link.aliasStats()).toMatchObject({ definitionsSent: 1, usesSent: 2 });
  });

  it('heals a lost definition within 16 uses: the reports between are refused, then all arrive', () => {
    // The device's second frame is its first aliased report: the definition. Lose it.
    const link = wired({ toGateway: (n) => n === 1 });
    link.device.link.send(report(0)); // offer
    link.gateway.link.send(createDispatch('GET', ['description'], { timestamp: 1, token: ['0b7e5f0a-2c57-4e1f-8f0e-7d8f1d9e6a11'] }));
    for (let i = 1; i <= 40; i++) link.device.link.send(report(i));
    const refusedValues = link.gateway.refused.map((r) => (r.partial.body as { value: number }).value);
    expect(refusedValues.length).toBeGreaterThan(0);
    expect(refusedValues.length).toBeLessThan(REDEFINE_EVERY_USES);
    expect(link.gateway.refused.every((r) => r.reason.startsWith('unknown resource alias'))).toBe(true);
    // After the repeated definition every report comes through, in order, with its resource.
    const arrived = link.gateway.received.map((d) => (d.body as { value: number }).value);
    const healedAt = Math.max(...refusedValues) + 1;
    expect(arrived.filter((v) => v >= healedAt)).toEqual(Array.from({ length: 41 - healedAt }, (_, i) => healedAt + i));
    expect(link.gateway.received.every((d) => JSON.stringify(d.resource) === JSON.stringify(REPORT))).toBe(true);
    expect(link.gateway.link.counters.lost).toBe(1);
  });

  it('with 20% of frames lost at random, never more than 15 reports in a row are refused', () => {
    let seed = 7;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const link = wired({ toGateway: () => random() < 0.2 });
    link.device.link.send(report(0));
    link.gateway.link.send(createDispatch('GET', ['description'], { timestamp: 1, token: ['0b7e5f0a-2c57-4e1f-8f0e-7d8f1d9e6a11'] }));
    const resources = [REPORT, ['properties', 'battery'], ['events', 'bump']];
    const runs = [0, 0, 0];
    let longest = 0;
    for (let i = 1; i <= 3000; i++) {
      const [refused, received] = [link.gateway.refused.length, link.gateway.received.length];
      link.device.link.send(createDispatch('PATCH', resources[i % 3]!, { timestamp: i, body: { value: i } }));
      // A refused report extends its resource's run; one that arrived ends it; a lost one changes nothing.
      if (link.gateway.refused.length > refused) runs[i % 3]!++;
      else if (link.gateway.received.length > received) runs[i % 3] = 0;
      longest = Math.max(longest, ...runs);
    }
    expect(link.gateway.refused.length).toBeGreaterThan(0);
    expect(longest).toBeLessThanOrEqual(REDEFINE_EVERY_USES - 1);
    expect(link.gateway.link.aliasStats().usesReceived).toBeGreaterThan(1500);
  });

  it('a rebooted device and a gateway told of it start over without an unknown alias', () => {
    const link = wired();
    link.device.link.send(report(0));
    link.gateway.link.send(createDispatch('GET', ['properties', 'temperature'], { timestamp: 1 }));
    link.gateway.link.send(createDispatch('GET', ['properties', 'temperature'], { timestamp: 2 }));
    for (let i = 1; i < 5; i++) link.device.link.send(report(i));
    link.reboot();
    for (let i = 5; i < 10; i++) link.device.link.send(report(i));
    link.gateway.link.send(createDispatch('GET', ['properties', 'temperature'], { timestamp: 3 }));
    expect(link.gateway.refused).toEqual([]);
    expect(link.device.refused).toEqual([]);
    expect(link.gateway.received).toHaveLength(10);
    expect(link.device.received.at(-1)).toMatchObject({ method: 'GET', resource: ['properties', 'temperature'], timestamp: 3 });
  });
});

/**
 * The receiving side: the dedup memory (resends dropped per sender, bounded memory),
 * its stage against the stage contract and on a real engine, and the receipt
 * resource; and the uplink's own stage against the contract.
 */
import { describe, expect, it } from 'vitest';
import { createDispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { bindReceipts, DedupMemory, dedupStage } from '../../gateway/uplinks/dedup.js';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { BUILT_IN_DIALERS } from '../../gateway/uplinks/dialers.js';
import { idOf } from '../../gateway/uplinks/dispatch-id.js';
import { memoryQueue } from '../../gateway/uplinks/memory-queue.js';
import { parseForwardPattern, type ForwardPattern } from '../../gateway/uplinks/uplink-config.js';
import { Uplink } from '../../gateway/uplinks/uplink.js';
import { RecordingChannel, stageContract } from '../support/stage-contract.js';

describe('the dedup memory', () => {
  it('lets ids through while they grow, and anything at or below the highest id of a sender is a resend', () => {
    const memory = new DedupMemory();
    expect(memory.admit(['pi', 1, 1])).toBe(true);
    expect(memory.admit(['pi', 1, 2])).toBe(true);
    expect(memory.admit(['pi', 1, 2])).toBe(false);
    expect(memory.admit(['pi', 1, 1])).toBe(false);
    // A gap (the sender dropped some for room) is no reason to refuse what follows.
    expect(memory.admit(['pi', 1, 9])).toBe(true);
    expect(memory.admit(['other', 1, 1])).toBe(true);
    // A later boot starts its sequence again; anything of an earlier boot is a resend now.
    expect(memory.admit(['pi', 2, 1])).toBe(true);
    expect(memory.admit(['pi', 1, 10])).toBe(false);
    expect(memory.highest('pi')).toEqual({ boot: 2, seq: 1 });
    expect(memory.highest('nobody')).toEqual({ boot: 0, seq: 0 });
    expect(memory.stats()).toEqual({ senders: 2, passed: 5, duplicates: 3 });
  });

  it('knows a resend from many boots ago (a gateway that restarted often while its link was down)', () => {
    const memory = new DedupMemory();
    for (let boot = 1; boot <= 60; boot++) for (let seq = 1; seq <= 3; seq++) expect(memory.admit(['pi', boot, seq])).toBe(true);
    expect(memory.admit(['pi', 3, 2])).toBe(false);
    expect(memory.admit(['pi', 60, 3])).toBe(false);
    expect(memory.admit(['pi', 61, 1])).toBe(true);
  });

  it('remembers the latest senders, no more', () => {
    const memory = new DedupMemory({ maxSenders: 3 });
    for (let n = 0; n < 10; n++) memory.admit([`sender-${n}`, 1, 1]);
    expect(memory.stats().senders).toBe(3);
    expect(memory.highest('sender-9')).toEqual({ boot: 1, seq: 1 });
    expect(memory.highest('sender-0')).toEqual({ boot: 0, seq: 0 });
    // Heard from again, a sender moves to the front and stays.
    memory.admit(['sender-7', 1, 2]);
    memory.admit(['sender-10', 1, 1]);
    expect(memory.highest('sender-7')).toEqual({ boot: 1, seq: 2 });
    expect(memory.highest('sender-8')).toEqual({ boot: 0, seq: 0 });
  });
});

describe('dispatch ids', () => {
  it('reads only well-formed ids', () => {
    const with_ = (id: unknown) => ({ ...createDispatch('PATCH', ['x']), id });
    expect(idOf(with_(['pi', 1, 2]))).toEqual(['pi', 1, 2]);
    for (const bad of [undefined, 'pi', ['pi', 1], ['', 1, 2], ['pi', -1, 2], ['pi', 1, 2.5], [1, 1, 1], ['x'.repeat(201), 1, 1]]) {
      expect(idOf(with_(bad))).toBeUndefined();
    }
  });
});

stageContract('dedup (dispatches without an id)', { make: () => dedupStage(new DedupMemory()), outcome: { kind: 'pass' } });

// The uplink's stage only acts on its own link: on every other channel it passes.
stageContract('uplink (channels other than its link)', {
  make: () =>
    new Uplink({
      name: 'cloud',
      url: new URL('tcp://127.0.0.1:1'),
      forward: [parseForwardPattern('PATCH devices/...') as ForwardPattern],
      serve: false,
      sender: 'pi',
      connectTimeoutMs: 1_000,
      engine: new Engine(),
      queue: memoryQueue('cloud', { maxBytes: 1e6, maxAgeMs: 1e6, whenFull: 'drop-oldest' }),
      dialer: BUILT_IN_DIALERS.tcp!,
      store: 'memory',
      maxBytes: 1e6,
      logger: silentLogger(),
    }).stage,
  outcome: { kind: 'pass' },
});

describe('the dedup stage on an engine', () => {
  it('drops resends from channels, keeps requests and local dispatches, and the receipt tells the highest sequence', async () => {
    const engine = new Engine();
    const memory = new DedupMemory();
    engine.use(dedupStage(memory));
    bindReceipts(engine, memory);
    const seen: unknown[] = [];
    engine.bind({ method: 'PATCH', resource: ['devices', '...'] }, (incoming) => {
      seen.push(incoming.body);
    });
    const far = new RecordingChannel('far');
    const patch = (n: number, seq: number) => ({ ...createDispatch('PATCH', ['devices', 'd'], { body: n }), id: ['pi', 7, seq] });
    for (const [n, seq] of [[1, 1], [2, 2], [3, 1], [4, 3], [5, 3]] as const) engine.receive(patch(n, seq), far);
    expect(seen).toEqual([1, 2, 4]);
    // The same id on a local dispatch is not this stage's business.
    engine.emit('PATCH', ['devices', 'd'], 6, { headers: { id: ['pi', 7, 1] } });
    expect(seen).toEqual([1, 2, 4, 6]);
    expect(engine.stats().stopped).toBe(2);
    const receipt = await engine.get(['gateway', 'received', 'pi']);
    expect(receipt.body).toEqual({ boot: 7, seq: 3 });
    expect((await engine.get(['gateway', 'received', 'somebody'])).body).toEqual({ boot: 0, seq: 0 });
    engine.close();
  });
});

/**
 * Replay protection (docs/spec/security.md, "Replay"): the 64-number window, the
 * ceilings written in blocks (not once per dispatch) and restored after a restart,
 * the first-contact clock check, and a signer's sequence numbers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { fileSequenceStore, ReplayFile } from '../../gateway/security/files.js';
import { FIRST_CONTACT_SKEW_MS, memoryReplayStore, REPLAY_BLOCK, ReplayGuard, ReplayWindow } from '../../gateway/security/replay.js';
import { memorySequenceStore, SEQUENCE_BLOCK, SequenceCounter } from '../../gateway/security/sequence.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-replay-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the replay window', () => {
  it('accepts each number once, in any order within 64, and nothing older', () => {
    const window = new ReplayWindow();
    for (const n of [5, 3, 4, 70, 10, 69]) {
      expect(window.fresh(n), String(n)).toBe(true);
      window.accept(n);
      expect(window.fresh(n), `${n} again`).toBe(false);
    }
    expect(window.fresh(6)).toBe(false); // 70 - 6 = 64: out of the window
    expect(window.fresh(7)).toBe(true);
    expect(window.fresh(71)).toBe(true);
    window.accept(1000);
    expect(window.fresh(70)).toBe(false);
    expect(window.fresh(999)).toBe(true);
  });

  it('a restored window refuses everything up to its ceiling', () => {
    const window = ReplayWindow.restored(500);
    for (const n of [0, 436, 437, 499, 500]) expect(window.fresh(n), String(n)).toBe(false);
    expect(window.fresh(501)).toBe(true);
  });
});

describe('the replay guard', () => {
  const now = 1_800_000_000_000;

  it('checks the clock on first contact only', () => {
    const guard = new ReplayGuard(memoryReplayStore(), () => now);
    expect(guard.check('k', 1, now + FIRST_CONTACT_SKEW_MS + 1)).toMatchObject({ ok: false, code: 'clock' });
    expect(guard.check('k', 1, now - FIRST_CONTACT_SKEW_MS - 1)).toMatchObject({ ok: false, code: 'clock' });
    expect(guard.check('k', 1, Number.NaN)).toMatchObject({ ok: false, code: 'clock' });
    expect(guard.check('k', 1, now - FIRST_CONTACT_SKEW_MS)).toMatchObject({ ok: true, firstContact: true });
    void guard.accept('k', 1);
    // Known now: an old timestamp is the window's business.
    expect(guard.check('k', 2, 0)).toMatchObject({ ok: true, firstContact: false });
    expect(guard.check('k', 1, now)).toMatchObject({ ok: false, code: 'replay' });
  });

  it('writes a ceiling once per half block, and waits for it only past the durable one', async () => {
    const store = memoryReplayStore();
    const guard = new ReplayGuard(store, () => now);
    // The first number ever must wait for its ceiling to be durable.
    expect(guard.accept('k', 0)).toBeInstanceOf(Promise);
    await Promise.resolve();
    for (let n = 1; n <= 10 * REPLAY_BLOCK; n++) {
      const waiting = guard.accept('k', n);
      if (waiting) await waiting;
    }
    expect(store.saved).toBeGreaterThanOrEqual(19);
    expect(store.saved).toBeLessThanOrEqual(22);
    expect(store.ceilings.get('k')).toBeGreaterThan(10 * REPLAY_BLOCK);
    expect(guard.writeCount).toBe(store.saved);
  });

  it('after a restart, refuses every number it may have accepted, and accepts the next ones', async () => {
    const store = memoryReplayStore();
    const first = new ReplayGuard(store, () => now);
    for (let n = 0; n < 300; n++) await first.accept('k', n);
    // A restart: only what the store holds survives.
    const second = new ReplayGuard(memoryReplayStore(store.ceilings), () => now);
    for (const n of [0, 150, 299]) expect(second.check('k', n, now).ok, String(n)).toBe(false);
    const ceiling = store.ceilings.get('k')!;
    expect(second.check('k', ceiling, now).ok).toBe(false);
    expect(second.check('k', ceiling + 1, now)).toMatchObject({ ok: true, firstContact: false });
  });

  it('persists ceilings in a file that survives a restart, and refuses a damaged one', async () => {
    const path = join(dir, 'gateway.replay');
    const file = await ReplayFile.open(path, silentLogger());
    const guard = new ReplayGuard(file, () => now);
    await guard.accept('signer-a', 41);
    await guard.accept('signer-b', 7);
    // One gateway per file: a second one is refused while the first runs.
    await expect(ReplayFile.open(path, silentLogger())).rejects.toThrow(/in use by process/);
    await file.close();
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, ceilings: { 'signer-a': 41 + REPLAY_BLOCK, 'signer-b': 7 + REPLAY_BLOCK } });
    const reopened = await ReplayFile.open(path, silentLogger());
    const after = new ReplayGuard(reopened, () => now);
    expect(after.check('signer-a', 41, now).ok).toBe(false);
    expect(after.check('signer-a', 41 + REPLAY_BLOCK + 1, now).ok).toBe(true);
    await reopened.close();
    const damaged = join(dir, 'damaged.replay');
    await import('node:fs/promises').then((fs) => fs.writeFile(damaged, '{"version":1,'));
    await expect(ReplayFile.open(damaged, silentLogger())).rejects.toThrow(/damaged/);
  });
});

describe("a signer's sequence numbers", () => {
  it('increase, reserve ranges from the store, and skip a replay block on a new connection', () => {
    const store = memorySequenceStore();
    const counter = new SequenceCounter(store);
    const first = counter.next();
    expect(first).toBe(REPLAY_BLOCK + 1);
    expect(counter.next()).toBe(first + 1);
    counter.skipBlock();
    expect(counter.next()).toBe(first + 2 + REPLAY_BLOCK + 1);
    expect(store.next).toBe(SEQUENCE_BLOCK);
    // A second user of the same store never gets the same numbers.
    const other = new SequenceCounter(store);
    expect(other.next()).toBeGreaterThanOrEqual(SEQUENCE_BLOCK);
  });

  it('a sequence file hands distinct ranges to processes that use one identity', () => {
    const path = join(dir, 'someone.key');
    const a = fileSequenceStore(path);
    const b = fileSequenceStore(path);
    const ranges = [a.reserve(SEQUENCE_BLOCK), b.reserve(SEQUENCE_BLOCK), a.reserve(SEQUENCE_BLOCK)];
    expect(ranges).toEqual([0, SEQUENCE_BLOCK, 2 * SEQUENCE_BLOCK]);
    expect(new SequenceCounter(fileSequenceStore(path)).next()).toBe(3 * SEQUENCE_BLOCK + REPLAY_BLOCK + 1);
  });

  it('two senders with one identity (two tabs, two commands) are both accepted, each in its own range', () => {
    const store = memorySequenceStore();
    const tabA = new SequenceCounter(store);
    const tabB = new SequenceCounter(store);
    const guard = new ReplayGuard(memoryReplayStore(), () => 0);
    const seen: number[] = [];
    for (let i = 0; i < 200; i++) {
      for (const tab of i % 3 === 0 ? [tabB, tabA] : [tabA, tabB]) {
        const n = tab.next();
        expect(guard.check('one identity', n, 0).ok, String(n)).toBe(true);
        void guard.accept('one identity', n);
        seen.push(n);
      }
    }
    // Each number once; a replay of any is refused.
    expect(new Set(seen).size).toBe(seen.length);
    for (const n of seen.slice(-20)) expect(guard.check('one identity', n, 0)).toMatchObject({ ok: false, code: 'replay' });
  });

  it('a number in a range older than the 8 kept is refused as too old', () => {
    const guard = new ReplayGuard(memoryReplayStore(), () => 0);
    for (let range = 0; range < 10; range++) void guard.accept('k', range * SEQUENCE_BLOCK + 300);
    expect(guard.check('k', 0 * SEQUENCE_BLOCK + 301, 0).ok).toBe(false);
    expect(guard.check('k', 1 * SEQUENCE_BLOCK + 301, 0).ok).toBe(false);
    expect(guard.check('k', 2 * SEQUENCE_BLOCK + 301, 0).ok).toBe(true);
    expect(guard.check('k', 2 * SEQUENCE_BLOCK + 300, 0).ok).toBe(false);
  });
});

/**
 * The one Backoff of the client, BLE, MQTT and serial: bounds, growth, the jitter's
 * range, starting over after a stable connection, and its options' checks (the
 * drivers' `reconnect` config keys use the same rules).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBleDriver } from '../../drivers/ble/ble-driver.js';
import { createSerialDriver } from '../../drivers/serial/serial-driver.js';
import { connect } from '../../gateway/client.js';
import { DeviceRegistry } from '../../gateway/devices/registry.js';
import { Backoff, BACKOFF_DEFAULTS, backoffProblems, type BackoffClock, type BackoffOptions } from '../../gateway/jstp/backoff.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';

/** A clock the test moves, and "random" values it picks (cycled). */
function testClock(randoms: readonly number[] = [0.5]): BackoffClock & { advance(ms: number): void } {
  let now = 0;
  let next = 0;
  return {
    now: () => now,
    random: () => randoms[next++ % randoms.length]!,
    advance(ms) {
      now += ms;
    },
  };
}

const options = fc.record({
  initialMs: fc.double({ min: 1, max: 10_000, noNaN: true }),
  maxMs: fc.double({ min: 1, max: 120_000, noNaN: true }),
  factor: fc.double({ min: 1, max: 4, noNaN: true }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
});
const randoms = fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 50 });

describe('Backoff', () => {
  it('every delay lies within (1 - jitter) of its ceiling and the ceiling, and never above maxMs', () => {
    fc.assert(
      fc.property(options, randoms, (settings, values) => {
        const backoff = new Backoff(settings, { clock: testClock(values) });
        const exact = new Backoff({ ...settings, jitter: 0 });
        for (let attempt = 0; attempt < values.length; attempt++) {
          const ceiling = exact.next();
          const delay = backoff.next();
          expect(ceiling).toBeLessThanOrEqual(settings.maxMs);
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(delay).toBeGreaterThanOrEqual(ceiling * (1 - settings.jitter) - 1e-9);
          expect(delay).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('without jitter: starts at initialMs (capped by maxMs), grows by factor, then stays at maxMs', () => {
    fc.assert(
      fc.property(options, (settings) => {
        const backoff = new Backoff({ ...settings, jitter: 0 });
        let previous = backoff.next();
        expect(previous).toBe(Math.min(settings.initialMs, settings.maxMs));
        for (let attempt = 1; attempt < 40; attempt++) {
          const delay = backoff.next();
          expect(delay).toBeCloseTo(Math.min(settings.maxMs, previous * settings.factor), 6);
          previous = delay;
        }
        if (settings.factor >= 1.5) expect(previous).toBe(settings.maxMs);
      }),
    );
  });

  it('jitter takes off at most its fraction: random 0 gives the ceiling, random near 1 the floor', () => {
    const ceilingOnly = new Backoff({ initialMs: 1_000, jitter: 0.5 }, { clock: testClock([0]) });
    expect(ceilingOnly.next()).toBe(1_000);
    const floor = new Backoff({ initialMs: 1_000, jitter: 0.5 }, { clock: testClock([0.999999]) });
    expect(floor.next()).toBeCloseTo(500, 2);
    const full = new Backoff({ initialMs: 1_000, jitter: 1 }, { clock: testClock([0.999999]) });
    expect(full.next()).toBeCloseTo(0, 2);
    // The system's random: spread over the range, never outside it.
    const spread = Array.from({ length: 500 }, () => new Backoff({ initialMs: 1_000, jitter: 0.5 }).next());
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...spread)).toBeLessThanOrEqual(1_000);
    expect(Math.max(...spread) - Math.min(...spread)).toBeGreaterThan(250);
  });

  it('starts over after a connection that lasted stableMs, not after a shorter one', () => {
    const clock = testClock([0]);
    const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, stableMs: 1_000 }, { clock });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400]);
    backoff.succeeded();
    clock.advance(999);
    // Dropped before it was stable: the delays keep growing.
    expect(backoff.next()).toBe(800);
    expect(backoff.attempts).toBe(4);
    backoff.succeeded();
    clock.advance(1_000);
    expect(backoff.next()).toBe(100);
    expect(backoff.attempts).toBe(1);
    // One success counts once: a later failure without a new connection keeps growing.
    expect(backoff.next()).toBe(200);
  });

  it('reset() starts over at once', () => {
    const backoff = new Backoff({ initialMs: 50, jitter: 0 });
    backoff.next();
    backoff.next();
    backoff.succeeded();
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(50);
  });

  it('has one set of defaults', () => {
    expect(new Backoff().options).toEqual(BACKOFF_DEFAULTS);
    expect(new Backoff({ maxMs: 5_000, jitter: undefined }).options).toEqual({ ...BACKOFF_DEFAULTS, maxMs: 5_000 });
  });
});

describe('backoff options', () => {
  it('accepts every option in range', () => {
    fc.assert(
      fc.property(options, fc.nat(), (settings, stableMs) => {
        expect(backoffProblems({ ...settings, stableMs })).toEqual([]);
      }),
    );
  });

  it('refuses a value out of range, naming the option', () => {
    const bad: [keyof BackoffOptions, unknown][] = [
      ['initialMs', 0],
      ['maxMs', -5],
      ['factor', 0.5],
      ['jitter', 1.5],
      ['jitter', -0.1],
      ['stableMs', -1],
      ['initialMs', Number.POSITIVE_INFINITY],
      ['maxMs', '5s'],
    ];
    for (const [key, value] of bad) {
      expect(backoffProblems({ [key]: value }), `${key}: ${String(value)}`).toEqual([{ path: [key], message: expect.stringMatching(/^must be a number/) }]);
      expect(() => new Backoff({ [key]: value } as BackoffOptions, { where: 'serial.reconnect' })).toThrow(
        expect.objectContaining({ code: ErrorCode.Config, message: expect.stringContaining(`serial.reconnect.${key} must be`) }),
      );
    }
    expect(backoffProblems([1, 2])).toEqual([{ path: [], message: expect.stringContaining('mapping') }]);
  });

  it('tells the old names apart from unknown ones', () => {
    expect(backoffProblems({ initialDelayMs: 20, maxDelayMs: 100, minBackoffMs: 1, typo: 1 })).toEqual([
      { path: ['initialDelayMs'], message: 'is not a backoff option: it is called initialMs now' },
      { path: ['maxDelayMs'], message: 'is not a backoff option: it is called maxMs now' },
      { path: ['minBackoffMs'], message: 'is not a backoff option: it is called initialMs now' },
      { path: ['typo'], message: 'is not a backoff option (known: initialMs, maxMs, factor, jitter, stableMs)' },
    ]);
  });

  it('the client refuses its old option names with a config error', () => {
    expect(() => connect('tcp://127.0.0.1:1', { reconnect: { initialDelayMs: 20 } as BackoffOptions })).toThrow(
      expect.objectContaining({ code: ErrorCode.Config, message: 'reconnect.initialDelayMs is not a backoff option: it is called initialMs now' }),
    );
  });

  it('serial.reconnect and ble.reconnect take the same options, and name the key of a wrong one', async () => {
    const registry = new DeviceRegistry({ engine: new Engine() });
    const full = { initialMs: 100, maxMs: 2_000, factor: 3, jitter: 0.25, stableMs: 500 };
    for (const [section, create] of [['serial', createSerialDriver], ['ble', () => createBleDriver({ adapter: 'none' })]] as const) {
      const accepted = create();
      await accepted.start(registry.context(section, [], { reconnect: full }));
      await accepted.stop();
      await expect(create().start(registry.context(section, [], { reconnect: { initialMs: 100, initialDelayMs: 100 } }))).rejects.toMatchObject({
        code: ErrorCode.Config,
        message: `${section}.reconnect.initialDelayMs: is not a backoff option: it is called initialMs now`,
      });
      await expect(create().start(registry.context(section, [], { reconnect: { jitter: 2 } }))).rejects.toMatchObject({
        code: ErrorCode.Config,
        message: `${section}.reconnect.jitter: must be a number from 0 to 1`,
      });
    }
  });
});

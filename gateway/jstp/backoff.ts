/**
 * The retry delays of every link that reconnects (the client, BLE, MQTT, serial):
 * exponential from `initialMs` by `factor` up to `maxMs`, with a random part taken
 * off each delay (`jitter`), starting over once a connection has lasted `stableMs`.
 *
 * Jitter takes a random fraction off the delay rather than drawing it from the whole
 * range ("full jitter"): links that dropped together still spread out, yet a link that
 * keeps failing never retries at once, because the delay keeps a floor of
 * `(1 - jitter)` of its ceiling. `jitter: 1` is full jitter, `jitter: 0` none.
 *
 * Pure: no timers and no Node imports (the browser client uses it); the caller
 * schedules the delay.
 */
import { errors } from './errors.js';

export interface BackoffOptions {
  /** Delay before the first retry, in ms (default 250). */
  initialMs?: number;
  /** Largest delay, in ms (default 10 000). */
  maxMs?: number;
  /** Growth per failed attempt, 1 or more (default 2). */
  factor?: number;
  /** Fraction of each delay taken off at random, 0..1 (default 0.5). */
  jitter?: number;
  /** How long a connection must last for its loss to start over from `initialMs` (default 1000 ms). */
  stableMs?: number;
}

export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.5, stableMs: 1_000 };

/** What is wrong with one option: its path under the options, and a sentence. */
export interface BackoffProblem {
  path: string[];
  message: string;
}

const CHECKS: Readonly<Record<keyof BackoffOptions, { valid(value: number): boolean; message: string }>> = {
  initialMs: { valid: (value) => value > 0, message: 'must be a number of milliseconds above 0' },
  maxMs: { valid: (value) => value > 0, message: 'must be a number of milliseconds above 0' },
  factor: { valid: (value) => value >= 1, message: 'must be a number, 1 or more' },
  jitter: { valid: (value) => value >= 0 && value <= 1, message: 'must be a number from 0 to 1' },
  stableMs: { valid: (value) => value >= 0, message: 'must be a number of milliseconds, 0 or more' },
};

/** Names the client and the MQTT driver used before there was one spelling. */
const RENAMED: Readonly<Record<string, keyof BackoffOptions>> = {
  initialDelayMs: 'initialMs',
  maxDelayMs: 'maxMs',
  minBackoffMs: 'initialMs',
  maxBackoffMs: 'maxMs',
};

/** Checks options from a config file or a caller; `undefined` is valid (every default). */
export function backoffProblems(input: unknown): BackoffProblem[] {
  if (input === undefined) return [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return [{ path: [], message: `must be a mapping of ${Object.keys(CHECKS).join(', ')}` }];
  }
  const problems: BackoffProblem[] = [];
  for (const [key, value] of Object.entries(input)) {
    const check = Object.hasOwn(CHECKS, key) ? CHECKS[key as keyof BackoffOptions] : undefined;
    if (!check) {
      const renamed = RENAMED[key];
      const message = renamed ? `is not a backoff option: it is called ${renamed} now` : `is not a backoff option (known: ${Object.keys(CHECKS).join(', ')})`;
      problems.push({ path: [key], message });
    } else if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || !check.valid(value))) {
      problems.push({ path: [key], message: check.message });
    }
  }
  return problems;
}

export interface BackoffClock {
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

const SYSTEM_CLOCK: BackoffClock = { now: () => Date.now(), random: () => Math.random() };

export class Backoff {
  readonly options: Readonly<Required<BackoffOptions>>;
  private readonly clock: BackoffClock;
  private failures = 0;
  private upSince: number | undefined;

  /** Throws PASARELA_CONFIG naming the option (under `where`) when one is wrong. */
  constructor(options: BackoffOptions = {}, settings: { where?: string; clock?: BackoffClock } = {}) {
    const problems = backoffProblems(options);
    if (problems.length > 0) {
      const where = settings.where ?? 'backoff';
      throw errors.config(problems.map((problem) => `${[where, ...problem.path].join('.')} ${problem.message}`).join('; '));
    }
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...BACKOFF_DEFAULTS, ...given };
    this.clock = settings.clock ?? SYSTEM_CLOCK;
  }

  /** Failed attempts since the last start-over. */
  get attempts(): number {
    return this.failures;
  }

  /**
   * The delay before the next attempt, after a failed one or a lost connection. A
   * connection that lasted `stableMs` (see `succeeded`) starts over from `initialMs`.
   */
  next(): number {
    if (this.upSince !== undefined) {
      if (this.clock.now() - this.upSince >= this.options.stableMs) this.failures = 0;
      this.upSince = undefined;
    }
    const { initialMs, maxMs, factor, jitter } = this.options;
    const ceiling = Math.min(maxMs, initialMs * factor ** this.failures);
    this.failures++;
    return ceiling * (1 - jitter * this.clock.random());
  }

  /** A connection is up; if it lasts `stableMs`, its loss starts the delays over. */
  succeeded(): void {
    this.upSince = this.clock.now();
  }

  /** Starts over from `initialMs` now. */
  reset(): void {
    this.failures = 0;
    this.upSince = undefined;
  }
}

/**
 * The test functions the contract suite registers its tests with: vitest's when it
 * runs under vitest, `node:test`'s otherwise, or whichever an author passes (any
 * runner with `describe`, `it`, `beforeEach` and `afterEach` in vitest's or node's
 * shape). Only the chosen runner is loaded.
 */

/** What a test body may do besides pass or throw. */
export interface TestControl {
  /** Marks the test skipped: the subject has nothing this test exercises. Return right after. */
  skip(reason: string): void;
}

type Body = (control: TestControl) => Promise<void>;
type Hook = () => Promise<void>;

/** The four registration functions, in either runner's shape. */
export interface TestFunctions {
  describe(name: string, fn: () => void): unknown;
  it(name: string, ...rest: any[]): unknown;
  beforeEach(fn: Hook, ...rest: any[]): unknown;
  afterEach(fn: Hook, ...rest: any[]): unknown;
}

/** Registration with a timeout, the same way for every runner. */
export interface Runner {
  describe(name: string, fn: () => void): void;
  it(name: string, body: Body, timeoutMs: number): void;
  beforeEach(fn: Hook, timeoutMs: number): void;
  afterEach(fn: Hook, timeoutMs: number): void;
}

/** A test context's skip, as vitest (`ctx.skip(note)`) and node:test (`t.skip(message)`) both spell it. */
interface SkippingContext {
  skip?(note?: string): void;
}

function control(context: unknown): TestControl {
  return {
    skip(reason) {
      const skip = (context as SkippingContext | undefined)?.skip;
      if (typeof skip !== 'function') throw new Error(`cannot skip "${reason}": this runner's test context has no skip()`);
      skip.call(context, reason);
    },
  };
}

/** vitest takes the timeout last; node:test takes an options object before the function. */
function adapt(functions: TestFunctions, style: 'vitest' | 'node'): Runner {
  if (style === 'vitest') {
    return {
      describe: (name, fn) => void functions.describe(name, fn),
      it: (name, body, timeoutMs) => void functions.it(name, (context: unknown) => body(control(context)), timeoutMs),
      beforeEach: (fn, timeoutMs) => void functions.beforeEach(fn, timeoutMs),
      afterEach: (fn, timeoutMs) => void functions.afterEach(fn, timeoutMs),
    };
  }
  return {
    describe: (name, fn) => void functions.describe(name, fn),
    it: (name, body, timeoutMs) => void functions.it(name, { timeout: timeoutMs }, (context: unknown) => body(control(context))),
    beforeEach: (fn, timeoutMs) => void functions.beforeEach(() => fn(), { timeout: timeoutMs }),
    afterEach: (fn, timeoutMs) => void functions.afterEach(() => fn(), { timeout: timeoutMs }),
  };
}

/** vitest's `it` has `concurrent` (as jest's does: both take the timeout last); node:test's has not. */
function styleOf(functions: TestFunctions): 'vitest' | 'node' {
  return typeof (functions.it as { concurrent?: unknown }).concurrent === 'function' ? 'vitest' : 'node';
}

/**
 * Inside a vitest worker: it sets VITEST and keeps its state on `globalThis` (a child
 * process a vitest test starts inherits the first, not the second).
 */
const inVitest = process.env.VITEST !== undefined && '__vitest_worker__' in globalThis;

/**
 * vitest's functions inside a vitest worker, node:test's anywhere else. Loaded as
 * this module loads (top-level await), so that tests register while the test file
 * runs, as both runners need.
 */
const detected: Runner = inVitest
  ? adapt((await import('vitest')) as unknown as TestFunctions, 'vitest')
  : adapt((await import('node:test')) as unknown as TestFunctions, 'node');

/** The runner for the functions an author passes, or the detected one. */
export function runnerFor(functions: TestFunctions | undefined): Runner {
  return functions ? adapt(functions, styleOf(functions)) : detected;
}

/**
 * `pasarela/testing` under `node --test`, as a driver author runs it with no test
 * library installed: the contract suite passes for a good driver, fails on a driver
 * that leaks a timer (naming the test), and reports a test with nothing to exercise
 * as skipped. (Under vitest every contract test of this repository runs it.)
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/pasarela.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'contract', 'memory.contract.ts');

interface NodeTestRun {
  code: number | null;
  output: string;
  counts: Record<string, number>;
}

function nodeTest(flaw?: string): Promise<NodeTestRun> {
  // The child inherits VITEST from this worker, as any process a vitest test starts does:
  // the suite must still see that it is not inside vitest, and pick node:test.
  const env: NodeJS.ProcessEnv = { ...process.env, PASARELA_CONTRACT_FLAW: flaw ?? '' };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', FIXTURE], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      const counts = Object.fromEntries([...output.matchAll(/^# (tests|pass|fail|skipped|cancelled) (\d+)$/gm)].map((match) => [match[1]!, Number(match[2])]));
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output, counts });
    });
  });
}

describe('the driver contract under node --test', () => {
  it('passes all nine tests for a driver that keeps the contract', async () => {
    const run = await nodeTest();
    expect(run.counts, run.output).toEqual({ tests: 9, pass: 9, fail: 0, skipped: 0, cancelled: 0 });
    expect(run.code).toBe(0);
  });

  it('fails, naming the test, for a driver that leaves a timer behind after stop()', async () => {
    const run = await nodeTest('leaks-a-timer');
    expect(run.code).not.toBe(0);
    expect(run.counts.fail, run.output).toBeGreaterThanOrEqual(1);
    expect(run.output).toMatch(/^\s*not ok \d+ - stops cleanly: no timers or sockets left/m);
    expect(run.output).toContain('timers or handles left after stop()');
  });

  it('reports the action test skipped for a subject without an action', async () => {
    const run = await nodeTest('no-action');
    expect(run.counts, run.output).toEqual({ tests: 9, pass: 8, fail: 0, skipped: 1, cancelled: 0 });
    expect(run.output).toMatch(/ok \d+ - invokes an action.* # SKIP the subject names no action/);
  });
});

/**
 * `pasarela watch ... | head -3` and `pasarela call ... | true`, through a real shell:
 * when the reader of the pipe goes away, the command exits 0, quietly (no EPIPE
 * stack trace).
 */
import { describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { CLI, pasarelaRuns } from '../support/pasarela.js';

const { gateway, shell } = pasarelaRuns();
const cleanups = cleanupsAfterEach();

/** The shell words that run `pasarela ARGS` from the source. */
function command(...args: string[]): string {
  return [process.execPath, '--import', 'tsx', CLI, ...args].map((word) => `'${word}'`).join(' ');
}

/** Runs `pasarela ARGS | READER` and reports pasarela's own exit status on stderr. */
function piped(reader: string, ...args: string[]): ReturnType<typeof shell> {
  return shell(`${command(...args)} | ${reader}; echo "pasarela exited \${PIPESTATUS[0]}" >&2`);
}

const exitLine = (line: string): boolean => line.startsWith('pasarela exited');

describe('a command whose output pipe closes', () => {
  it('watch | head -3: three lines, then exit 0 without a stack trace', async () => {
    const { tcp } = await gateway();
    const url = `tcp://127.0.0.1:${tcp}`;
    const emitter = connect(url, { reconnect: false });
    cleanups.push(() => emitter.close());
    await emitter.ready();
    let seq = 0;
    // PATCHes keep coming after head has gone, so watch has to write into the closed pipe.
    const timer = setInterval(() => emitter.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: seq++ }), 20);
    cleanups.push(() => clearInterval(timer));

    const run = piped('head -3', 'watch', 'PATCH', 'devices/*/properties/temperature', '--url', url);
    const status = await run.line('stderr', exitLine, 20_000);
    await run.exited;
    expect(run.stdout).toHaveLength(3);
    for (const line of run.stdout) expect(line).toMatch(/^PATCH devices\/kitchen\/properties\/temperature \{"value":\d+\}$/);
    expect(status).toBe('pasarela exited 0');
    const stderr = run.stderr.filter((line) => !exitLine(line) && !line.startsWith('watching '));
    expect(stderr).toEqual([]);
  });

  it('call | true: the reader is gone before the answer is printed; exit 0 without a stack trace', async () => {
    const { tcp } = await gateway();
    const run = piped('true', 'call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${tcp}`);
    const status = await run.line('stderr', exitLine, 20_000);
    expect(status).toBe('pasarela exited 0');
    expect(run.stderr.filter((line) => !exitLine(line))).toEqual([]);
  });
});

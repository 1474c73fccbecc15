/**
 * One command in flight: order, timeout (504), callers that give up, and failing
 * everything when the port goes (502). Timeouts here are tiny, and only their
 * outcome is checked, never how long they took.
 */
import { describe, expect, it } from 'vitest';
import { CommandQueue } from '../../drivers/command-queue.js';

describe('command queue', () => {
  it('sends one command at a time, in order', async () => {
    const queue = new CommandQueue<string>({ timeoutMs: 10_000, holdOnAbort: true });
    const sent: string[] = [];
    const a = queue.run('a', (d) => void sent.push(d));
    const b = queue.run('b', (d) => void sent.push(d));
    expect(sent).toEqual(['a']);
    expect(queue.current).toBe('a');
    queue.settle(1);
    expect(await a).toBe(1);
    await Promise.resolve();
    expect(sent).toEqual(['a', 'b']);
    queue.fail(new Error('no'));
    await expect(b).rejects.toThrow('no');
  });

  it('times out with 504 and moves on', async () => {
    let timeouts = 0;
    const queue = new CommandQueue<string>({ timeoutMs: 5, holdOnAbort: true, onTimeout: () => timeouts++ });
    const silent = queue.run('a', () => {});
    const next = queue.run('b', () => {});
    await expect(silent).rejects.toMatchObject({ status: 504 });
    await Promise.resolve();
    expect(queue.current).toBe('b');
    queue.settle('ok');
    expect(await next).toBe('ok');
    expect(timeouts).toBe(1);
  });

  it('a caller that gives up is answered at once; with holdOnAbort its command keeps the line', async () => {
    const queue = new CommandQueue<string>({ timeoutMs: 10_000, holdOnAbort: true });
    const controller = new AbortController();
    const first = queue.run('a', () => {}, controller.signal);
    const waiting = new AbortController();
    const second = queue.run('b', () => {}, waiting.signal);
    const third = queue.run('c', () => {});
    waiting.abort(new Error('deadline b'));
    await expect(second).rejects.toThrow('deadline b');
    controller.abort(new Error('deadline a'));
    await expect(first).rejects.toThrow('deadline a');
    expect(queue.current).toBe('a'); // its late reply must not be taken for c's
    queue.settle('late reply to a');
    await Promise.resolve();
    expect(queue.current).toBe('c');
    queue.settle('c');
    expect(await third).toBe('c');
  });

  it('failAll fails the command in flight and every waiting one', async () => {
    const queue = new CommandQueue<string>({ timeoutMs: 10_000, holdOnAbort: false });
    const calls = [queue.run('a', () => {}), queue.run('b', () => {})];
    queue.failAll(Object.assign(new Error('port gone'), { status: 502 }));
    for (const call of calls) await expect(call).rejects.toMatchObject({ status: 502 });
    expect(queue.size).toBe(0);
  });
});

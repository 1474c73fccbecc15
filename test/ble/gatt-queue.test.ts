/** The per-device GATT queue: order, one at a time, timeouts, callers that leave, closing. */
import { describe, expect, it } from 'vitest';
import { GattQueue } from '../../drivers/ble/index.js';
import { ErrorCode, Status } from '../../gateway/jstp/errors.js';

interface Pending<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function pending<T>(): Pending<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

describe('GattQueue', () => {
  it('runs operations in order, one at a time', async () => {
    const queue = new GattQueue();
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        queue.run(`op ${i}`, async () => {
          started.push(i);
          running += 1;
          most = Math.max(most, running);
          // Later operations answer sooner: order must still hold.
          await new Promise((resolve) => setTimeout(resolve, (100 - i) % 3));
          running -= 1;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(started).toEqual(results);
    expect(most).toBe(1);
    expect(queue.done).toBe(100);
    expect(queue.size).toBe(0);
  });

  it('times out an operation with a 504, tells onTimeout, aborts its signal and goes on', async () => {
    const timedOut: string[] = [];
    const queue = new GattQueue({ timeoutMs: 20, onTimeout: (label) => timedOut.push(label) });
    let aborted: unknown;
    const stuck = queue.run('read state', (signal) => {
      signal.addEventListener('abort', () => (aborted = signal.reason));
      return new Promise<never>(() => {});
    });
    const next = queue.run('read water', async () => 42);
    await expect(stuck).rejects.toMatchObject({ code: ErrorCode.DeviceTimeout, status: Status.Timeout, message: expect.stringContaining('read state') });
    expect(aborted).toMatchObject({ code: ErrorCode.DeviceTimeout });
    expect(timedOut).toEqual(['read state']);
    await expect(next).resolves.toBe(42);
  });

  it('lets a queued caller leave without running its operation', async () => {
    const queue = new GattQueue();
    const first = pending<string>();
    const running = queue.run('first', () => first.promise);
    const caller = new AbortController();
    let ran = false;
    const leaving = queue.run(
      'second',
      async () => {
        ran = true;
      },
      { signal: caller.signal },
    );
    caller.abort(new Error('deadline'));
    await expect(leaving).rejects.toThrow('deadline');
    first.resolve('done');
    await expect(running).resolves.toBe('done');
    await expect(queue.run('third', async () => 3)).resolves.toBe(3);
    expect(ran).toBe(false);
  });

  it('keeps the line while a running operation is on the air, even if its caller left', async () => {
    const queue = new GattQueue();
    const answer = pending<string>();
    const caller = new AbortController();
    const left = queue.run('write', () => answer.promise, { signal: caller.signal });
    let nextStarted = false;
    const next = queue.run('read', async () => {
      nextStarted = true;
      return 'read';
    });
    caller.abort(new Error('deadline'));
    await expect(left).rejects.toThrow('deadline');
    await new Promise((resolve) => setImmediate(resolve));
    // Its answer would land on the next request: the next one waits.
    expect(nextStarted).toBe(false);
    answer.resolve('late');
    await expect(next).resolves.toBe('read');
  });

  it('close rejects the running and the queued operations, and every later one', async () => {
    const queue = new GattQueue();
    let aborted = false;
    const running = queue.run('a', (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise<never>(() => {});
    });
    const queued = queue.run('b', async () => 'b');
    const offline = new Error('offline');
    queue.close(offline);
    await expect(running).rejects.toBe(offline);
    await expect(queued).rejects.toBe(offline);
    await expect(queue.run('c', async () => 'c')).rejects.toBe(offline);
    expect(aborted).toBe(true);
    expect(queue.closed).toBe(true);
  });

  it('turns an operation that throws synchronously into a rejection and goes on', async () => {
    const queue = new GattQueue();
    const failing = queue.run('throws', () => {
      throw new Error('not connected');
    });
    await expect(failing).rejects.toThrow('not connected');
    await expect(queue.run('next', async () => 'ok')).resolves.toBe('ok');
  });
});

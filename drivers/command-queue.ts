/**
 * One command in flight on a device's link (serial, BLE), with a timeout. Commands wait their turn
 * in order; a caller whose deadline passes while waiting is taken out of the line.
 * A command whose caller gave up while it was in flight can keep the line until its
 * answer or its timeout (`holdOnAbort`), so a late answer is not taken for the next
 * command's: what a protocol without transaction ids (a line protocol) needs.
 */
import { errors } from '../gateway/jstp/errors.js';

export interface CommandQueueOptions {
  timeoutMs: number;
  holdOnAbort: boolean;
  /** Called for each command that timed out (for the link's counters). */
  onTimeout?: () => void;
}

interface Job<D> {
  readonly data: D;
  readonly timeoutMs: number;
  readonly send: (data: D) => void | Promise<unknown>;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The caller got its answer (or error); the job may still hold the line. */
  answered: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;
}

export class CommandQueue<D> {
  private readonly waiting: Job<D>[] = [];
  private active: Job<D> | undefined;

  constructor(private readonly options: CommandQueueOptions) {}

  /** What the command in flight was sent with, for the link to match answers against. */
  get current(): D | undefined {
    return this.active?.data;
  }

  get size(): number {
    return this.waiting.length + (this.active ? 1 : 0);
  }

  /**
   * Queues a command. `send` writes it when its turn comes; if it returns a promise,
   * that settles the command, otherwise the link calls `settle` or `fail`.
   */
  run<T>(data: D, send: (data: D) => void | Promise<T>, signal?: AbortSignal, timeoutMs = this.options.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const job: Job<D> = { data, timeoutMs, send, signal, resolve: resolve as (value: unknown) => void, reject, answered: false, timer: undefined, onAbort: undefined };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.waiting.push(job);
      this.next();
    });
  }

  /** The command in flight succeeded. */
  settle(value: unknown): void {
    const job = this.active;
    if (!job) return;
    this.finish(job);
    this.answer(job, () => job.resolve(value));
  }

  /** The command in flight failed. */
  fail(error: unknown): void {
    const job = this.active;
    if (!job) return;
    this.finish(job);
    this.answer(job, () => job.reject(error));
  }

  /** Fails every command, in flight or waiting (the port went away, or the driver stops). */
  failAll(error: unknown): void {
    const jobs = [...(this.active ? [this.active] : []), ...this.waiting.splice(0)];
    if (this.active) this.finish(this.active, false);
    for (const job of jobs) this.answer(job, () => job.reject(error));
  }

  private next(): void {
    if (this.active) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.active = job;
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (this.active !== job) return;
      this.options.onTimeout?.();
      this.fail(errors.deviceTimeout(`no answer from the device within ${job.timeoutMs} ms`));
    }, job.timeoutMs);
    let result: void | Promise<unknown>;
    try {
      result = job.send(job.data);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (result) {
      result.then(
        (value) => {
          if (this.active === job) this.settle(value);
        },
        (error: unknown) => {
          if (this.active === job) this.fail(error);
        },
      );
    }
  }

  private abort(job: Job<D>): void {
    const index = this.waiting.indexOf(job);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.answer(job, () => job.reject(job.signal!.reason));
      return;
    }
    if (this.active !== job) return;
    this.answer(job, () => job.reject(job.signal!.reason));
    if (!this.options.holdOnAbort) {
      this.finish(job);
    }
  }

  /** Frees the line and starts the next command. */
  private finish(job: Job<D>, startNext = true): void {
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    if (this.active === job) this.active = undefined;
    if (startNext) queueMicrotask(() => this.next());
  }

  private answer(job: Job<D>, deliver: () => void): void {
    if (job.answered) return;
    job.answered = true;
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    deliver();
  }
}

/**
 * One device's GATT operations, one at a time, in order. noble cannot tell two
 * answers on the same characteristic apart (a `read` event carries no request id),
 * so a second request in flight would take the first one's answer: serialising is
 * what makes each answer belong to its request. Each operation has a timeout from
 * when it starts. A caller that stops waiting (its AbortSignal) leaves the queue;
 * an operation already sent keeps the queue until the device answers or it times out,
 * since its answer would otherwise land on the next one. After a timeout the link is
 * not trusted (ATT ends the bearer too): `onTimeout` is told, and usually closes it.
 */
import { errors } from '../../gateway/jstp/errors.js';

/** Sends one request; resolves with its answer. `signal` aborts when it timed out or the queue closed. */
export type GattOperation<T> = (signal: AbortSignal) => Promise<T>;

export interface GattQueueOptions {
  /** Per operation, from when it starts (default 5 s). */
  timeoutMs?: number;
  /** Called once per timeout, with the label of the operation that timed out. */
  onTimeout?: (label: string) => void;
}

interface Job {
  readonly label: string;
  readonly operation: GattOperation<unknown>;
  readonly timeoutMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  settled: boolean;
}

function callerGone(signal: AbortSignal): unknown {
  return signal.reason ?? errors.deviceTimeout('the caller stopped waiting');
}

export class GattQueue {
  private readonly timeoutMs: number;
  private readonly onTimeout: ((label: string) => void) | undefined;
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  private closedWith: unknown;
  private runningController: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private completed = 0;

  constructor(options: GattQueueOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.onTimeout = options.onTimeout;
  }

  /** Operations waiting, plus the one running. */
  get size(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  /** Operations that finished (answered, failed or timed out). */
  get done(): number {
    return this.completed;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  run<T>(label: string, operation: GattOperation<T>, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closedWith !== undefined) {
        reject(this.closedWith);
        return;
      }
      const { signal } = options;
      if (signal?.aborted) {
        reject(callerGone(signal));
        return;
      }
      const job: Job = {
        label,
        operation: operation as GattOperation<unknown>,
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        resolve: resolve as (value: unknown) => void,
        reject,
        signal,
        onAbort: () => this.abandon(job),
        settled: false,
      };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.waiting.push(job);
      this.next();
    });
  }

  /** Rejects every operation with `error` (e.g. the link dropped); later runs reject at once. */
  close(error: unknown): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = error;
    const jobs = [...this.waiting];
    this.waiting.length = 0;
    if (this.running) jobs.unshift(this.running);
    // The running operation drops its listeners; its answer, if one ever comes, is ignored.
    this.runningController?.abort(error);
    this.finishRunning();
    for (const job of jobs) this.settle(job, () => job.reject(error));
  }

  private next(): void {
    if (this.running || this.closedWith !== undefined) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = job;
    const controller = new AbortController();
    this.runningController = controller;
    this.timer = setTimeout(() => {
      const error = errors.deviceTimeout(`GATT ${job.label}: no answer within ${job.timeoutMs} ms`);
      controller.abort(error);
      this.settle(job, () => job.reject(error));
      this.finishRunning();
      this.onTimeout?.(job.label);
      this.next();
    }, job.timeoutMs);
    let pending: Promise<unknown>;
    try {
      pending = job.operation(controller.signal);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => this.finish(job, () => job.resolve(value)),
      (error: unknown) => this.finish(job, () => job.reject(error)),
    );
  }

  private finish(job: Job, settle: () => void): void {
    if (this.running !== job) return; // timed out or closed already
    this.finishRunning();
    this.settle(job, settle);
    this.next();
  }

  private finishRunning(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) this.completed += 1;
    this.running = undefined;
    this.runningController = undefined;
  }

  /** The caller stopped waiting: a queued job leaves; a running one keeps the line until the device answers. */
  private abandon(job: Job): void {
    const index = this.waiting.indexOf(job);
    if (index >= 0) this.waiting.splice(index, 1);
    this.settle(job, () => job.reject(callerGone(job.signal!)));
  }

  private settle(job: Job, settle: () => void): void {
    if (job.settled) return;
    job.settled = true;
    job.signal?.removeEventListener('abort', job.onAbort);
    settle();
  }
}

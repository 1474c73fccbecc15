/**
 * The promise side of a local request: resolves with the first 200 answer, and
 * `all()` gives every answer once the set is complete (101 No More Answers).
 */
import type { Dispatch } from './dispatch.js';
import { ErrorCode, PasarelaError, Status, statusText } from './errors.js';

export interface Answer {
  status: number;
  transactionId: string;
  triggeringId: string | undefined;
  body: unknown;
  dispatch: Dispatch;
}

/** What the engine feeds a waiting local transaction. */
export interface AnswerSink {
  accept(answer: Answer): void;
  end(): void;
  fail(error: Error): void;
}

/** The transaction ended without a 200: carries every answer that did come. */
export class AnswerError extends PasarelaError {
  readonly answers: Answer[];
  constructor(status: number, answers: Answer[]) {
    super(ErrorCode.AnswerStatus, `answered ${status} ${statusText[status] ?? ''}`.trim(), { status });
    this.name = 'AnswerError';
    this.answers = answers;
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

export class Reply implements PromiseLike<Answer>, AnswerSink {
  readonly transactionId: string;
  private readonly received: Answer[] = [];
  private done = false;
  private failure: Error | undefined;
  // Created lazily so that a reply nobody awaits never becomes an unhandled rejection.
  private firstOk: Deferred<Answer> | undefined;
  private complete: Deferred<Answer[]> | undefined;

  constructor(transactionId: string) {
    this.transactionId = transactionId;
  }

  /** Answers received so far. */
  get answers(): readonly Answer[] {
    return this.received;
  }

  get isDone(): boolean {
    return this.done;
  }

  accept(answer: Answer): void {
    if (this.done) return;
    this.received.push(answer);
    if (this.firstOk && isOk(answer.status)) this.firstOk.resolve(answer);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.firstOk) this.settleFirst(this.firstOk);
    this.complete?.resolve(this.received);
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.firstOk?.reject(error);
    this.complete?.reject(error);
  }

  /** The first 200 answer; rejects with AnswerError when the set ends without one. */
  first(): Promise<Answer> {
    if (!this.firstOk) {
      this.firstOk = deferred<Answer>();
      const ok = this.received.find((answer) => isOk(answer.status));
      if (ok) this.firstOk.resolve(ok);
      else if (this.failure) this.firstOk.reject(this.failure);
      else if (this.done) this.settleFirst(this.firstOk);
    }
    return this.firstOk.promise;
  }

  /** Every answer, once every triggering id has answered or timed out. */
  all(): Promise<Answer[]> {
    if (!this.complete) {
      this.complete = deferred<Answer[]>();
      if (this.failure) this.complete.reject(this.failure);
      else if (this.done) this.complete.resolve(this.received);
    }
    return this.complete.promise;
  }

  then<A = Answer, B = never>(
    onFulfilled?: ((value: Answer) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.first().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<Answer | B> {
    return this.first().catch(onRejected);
  }

  private settleFirst(target: Deferred<Answer>): void {
    const ok = this.received.find((answer) => isOk(answer.status));
    if (ok) {
      target.resolve(ok);
      return;
    }
    const status = this.received[0]?.status ?? Status.Timeout;
    target.reject(new AnswerError(status, this.received));
  }
}

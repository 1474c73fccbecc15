/**
 * The dispatch pipeline: stages between the wire and the engine (signatures,
 * encryption, store-and-forward, metering). Each stage returns a verdict, now or as a
 * promise. Order is kept per channel and direction: while one dispatch of a channel
 * waits on an async stage, the ones after it wait behind it. A stage that answers at
 * once costs a function call, no microtask.
 */
import type { Channel } from './channel.js';
import type { Dispatch } from './dispatch.js';
import type { Logger } from './logger.js';

/** Stop the dispatch here; the reason is logged and counted. */
export interface DropVerdict {
  readonly drop: string;
}

/**
 * Stop the dispatch and answer its sender with `answer` (a JSTP status) when it has a
 * transaction, so a refused request hears why at once instead of a 504 later.
 */
export interface AnswerVerdict {
  readonly answer: number;
  readonly reason?: string;
  /** More fields for the answer's body, which is `{ ...details, reason }` (a redirect, a retry hint). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The dispatch (the same object, or a changed copy), a drop, or an answer. */
export type Verdict = Dispatch | DropVerdict | AnswerVerdict;

/**
 * A pipeline stage. Contract:
 * - Never change a dispatch in place: return a changed copy. The engine relays a
 *   dispatch it received unchanged as the text it came in, and knows it is unchanged
 *   only when a stage returns the very object it was given.
 * - A verdict may be a promise; the dispatches after it on the same channel wait.
 * - A stage that throws (or whose promise rejects) has its error logged with its
 *   name, and the dispatch is dropped.
 */
export interface Stage {
  readonly name: string;
  /** A dispatch entering the engine: from a channel, or local (`from` undefined). */
  inbound?(dispatch: Dispatch, from: Channel | undefined): Verdict | PromiseLike<Verdict>;
  /** A dispatch about to be sent to a channel. Outbound stages run in reverse order. */
  outbound?(dispatch: Dispatch, to: Channel): Verdict | PromiseLike<Verdict>;
  /**
   * The channel closed and the engine released what it had bound: a stage that keeps
   * state per channel (a verified grant, a remote subscription) forgets it here.
   */
  detached?(channel: Channel): void;
}

export type Direction = 'inbound' | 'outbound';

/** What a stopped dispatch got: a drop or an answer, and from which stage. */
export interface Stopped {
  readonly stage: string;
  readonly reason: string;
  /** Set for an answer verdict. */
  readonly status?: number;
  /** An answer verdict's extra body fields. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Where the pipeline hands a dispatch once its stages are done with it. */
export interface PipelineSink<C> {
  passed(direction: Direction, dispatch: Dispatch, channel: Channel | undefined, text: string | undefined, context: C): void;
  stopped(direction: Direction, dispatch: Dispatch, channel: Channel | undefined, context: C, outcome: Stopped): void;
}

/** A dispatch parked on an async stage, or queued behind one. */
interface Job<C> {
  readonly direction: Direction;
  readonly stages: readonly Stage[];
  readonly channel: Channel | undefined;
  readonly context: C;
  dispatch: Dispatch;
  text: string | undefined;
  /** The next stage to run. */
  index: number;
}

/** Jobs waiting behind the one that is parked; present while the lane is busy. */
type Lane<C> = Job<C>[];

const LOCAL = Symbol('local');

function isThenable(value: unknown): value is PromiseLike<Verdict> {
  return typeof (value as { then?: unknown }).then === 'function';
}

function isDispatch(verdict: Verdict): verdict is Dispatch {
  return typeof (verdict as Dispatch).method === 'string';
}

export class Pipeline<C> {
  private inboundStages: readonly Stage[] = [];
  private outboundStages: readonly Stage[] = [];
  private allStages: readonly Stage[] = [];
  private readonly inboundLanes = new Map<Channel | typeof LOCAL, Lane<C>>();
  private readonly outboundLanes = new Map<Channel | typeof LOCAL, Lane<C>>();

  constructor(private readonly sink: PipelineSink<C>, private readonly logger: Logger) {}

  /** Adds a stage; returns the function that removes it. */
  use(stage: Stage): () => void {
    if (stage.inbound) this.inboundStages = [...this.inboundStages, stage];
    // Outbound runs in the reverse order, like middleware unwinding.
    if (stage.outbound) this.outboundStages = [stage, ...this.outboundStages];
    this.allStages = [...this.allStages, stage];
    return () => {
      this.inboundStages = this.inboundStages.filter((s) => s !== stage);
      this.outboundStages = this.outboundStages.filter((s) => s !== stage);
      this.allStages = this.allStages.filter((s) => s !== stage);
    };
  }

  /** True when inbound dispatches can skip the pipeline (no stage, nothing parked). */
  get inboundIdle(): boolean {
    return this.inboundStages.length === 0 && this.inboundLanes.size === 0;
  }

  get outboundIdle(): boolean {
    return this.outboundStages.length === 0 && this.outboundLanes.size === 0;
  }

  get stageNames(): string[] {
    return this.allStages.map((stage) => stage.name);
  }

  /** Tells every stage that a channel is gone; a stage that throws is logged. */
  detached(channel: Channel): void {
    for (const stage of this.allStages) {
      if (!stage.detached) continue;
      try {
        stage.detached(channel);
      } catch (error) {
        this.logger.error({ stage: stage.name, channel: channel.id, err: error }, 'pipeline stage failed on a detached channel');
      }
    }
  }

  run(direction: Direction, dispatch: Dispatch, channel: Channel | undefined, text: string | undefined, context: C): void {
    const lanes = direction === 'inbound' ? this.inboundLanes : this.outboundLanes;
    const stages = direction === 'inbound' ? this.inboundStages : this.outboundStages;
    const lane = lanes.size === 0 ? undefined : lanes.get(channel ?? LOCAL);
    if (lane) {
      lane.push({ direction, stages, channel, context, dispatch, text, index: 0 });
      return;
    }
    // The hot path: stages that return the very dispatch they were given cost a call
    // each, and no job is made for the dispatch.
    for (let index = 0; index < stages.length; index++) {
      const stage = stages[index]!;
      let verdict: Verdict | PromiseLike<Verdict>;
      try {
        verdict = direction === 'inbound' ? stage.inbound!(dispatch, channel) : stage.outbound!(dispatch, channel!);
      } catch (error) {
        this.failed({ direction, stages, channel, context, dispatch, text, index }, stage, error);
        return;
      }
      if (verdict === dispatch) continue;
      if (this.settle({ direction, stages, channel, context, dispatch, text, index }, stage, verdict)) lanes.set(channel ?? LOCAL, []);
      return;
    }
    this.sink.passed(direction, dispatch, channel, text, context);
  }

  /** Runs a job's stages from `job.index`; true when it parked on a promise. */
  private advance(job: Job<C>): boolean {
    const { stages, direction, channel } = job;
    for (; job.index < stages.length; job.index++) {
      const stage = stages[job.index]!;
      let verdict: Verdict | PromiseLike<Verdict>;
      try {
        verdict = direction === 'inbound' ? stage.inbound!(job.dispatch, channel) : stage.outbound!(job.dispatch, channel!);
      } catch (error) {
        this.failed(job, stage, error);
        return false;
      }
      if (verdict === job.dispatch) continue;
      return this.settle(job, stage, verdict);
    }
    this.sink.passed(direction, job.dispatch, channel, job.text, job.context);
    return false;
  }

  /** Takes the verdict of the stage at `job.index` and goes on; true when it parked. */
  private settle(job: Job<C>, stage: Stage, verdict: Verdict | PromiseLike<Verdict>): boolean {
    if (isThenable(verdict)) {
      verdict.then(
        (settled) => this.resume(job, stage, settled),
        (error: unknown) => {
          this.failed(job, stage, error);
          this.next(job);
        },
      );
      return true;
    }
    if (!this.apply(job, stage, verdict)) return false;
    job.index++;
    return this.advance(job);
  }

  /** Takes a verdict; false when it stopped the dispatch. */
  private apply(job: Job<C>, stage: Stage, verdict: Verdict): boolean {
    if (verdict === job.dispatch) return true;
    if (verdict !== null && typeof verdict === 'object') {
      if (isDispatch(verdict)) {
        job.dispatch = verdict;
        // Changed on the way: the text it came in no longer says what it is.
        job.text = undefined;
        return true;
      }
      if (typeof (verdict as AnswerVerdict).answer === 'number') {
        const { answer, reason, details } = verdict as AnswerVerdict;
        const outcome: Stopped = { stage: stage.name, status: answer, reason: reason ?? `refused by ${stage.name}` };
        this.sink.stopped(job.direction, job.dispatch, job.channel, job.context, details ? { ...outcome, details } : outcome);
        return false;
      }
      if (typeof (verdict as DropVerdict).drop === 'string') {
        this.sink.stopped(job.direction, job.dispatch, job.channel, job.context, { stage: stage.name, reason: (verdict as DropVerdict).drop });
        return false;
      }
    }
    this.failed(job, stage, new TypeError('stage returned no verdict'));
    return false;
  }

  private resume(job: Job<C>, stage: Stage, verdict: Verdict): void {
    if (this.apply(job, stage, verdict)) {
      job.index++;
      if (this.advance(job)) return;
    }
    this.next(job);
  }

  private failed(job: Job<C>, stage: Stage, error: unknown): void {
    this.logger.error({ stage: stage.name, direction: job.direction, channel: job.channel?.id, err: error }, 'pipeline stage failed; dispatch dropped');
    this.sink.stopped(job.direction, job.dispatch, job.channel, job.context, { stage: stage.name, reason: 'stage failed' });
  }

  /** A parked job is done: the lane runs what queued behind it, until one parks again. */
  private next(finished: Job<C>): void {
    const lanes = finished.direction === 'inbound' ? this.inboundLanes : this.outboundLanes;
    const key = finished.channel ?? LOCAL;
    const lane = lanes.get(key);
    if (!lane) return;
    for (let job = lane.shift(); job; job = lane.shift()) {
      if (this.advance(job)) return;
    }
    lanes.delete(key);
  }
}

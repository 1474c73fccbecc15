/**
 * The stage that drains a saturated instance: while draining, a new request from a
 * peer for a replicated service is answered 503 with the members to use instead,
 * before anything processes it (so the client may safely send it elsewhere).
 * Requests already admitted are not touched: they finish. Synchronous.
 */
import type { Channel } from '../jstp/channel.js';
import type { Dispatch } from '../jstp/dispatch.js';
import { compilePattern, normalizePattern, type CompiledPattern } from '../jstp/endpoint.js';
import { ErrorCode, errors, Status } from '../jstp/errors.js';
import type { AnswerVerdict, Stage } from '../jstp/pipeline.js';

export class DrainStage implements Stage {
  readonly name = 'cluster-drain';
  /** Set by the cluster plugin from the level: undefined while serving, else the redirect. */
  redirect: readonly string[] | undefined;
  /** Requests refused so far. */
  refused = 0;
  private readonly patterns: CompiledPattern[];

  constructor(replicated: readonly (readonly (string | number)[])[]) {
    this.patterns = replicated.map((pattern) => {
      const normalized = normalizePattern(pattern, 'strict');
      if (!normalized.ok) throw errors.badPattern(normalized.reason);
      return compilePattern(normalized.pattern);
    });
  }

  get draining(): boolean {
    return this.redirect !== undefined;
  }

  /** Whether a resource belongs to a replicated service. */
  replicates(resource: readonly (string | number)[]): boolean {
    return this.patterns.some((pattern) => pattern.match(resource) !== null);
  }

  inbound(dispatch: Dispatch, from: Channel | undefined): Dispatch | AnswerVerdict {
    const redirect = this.redirect;
    if (redirect === undefined || from === undefined || dispatch.token === undefined || dispatch.method === 'ANSWER') return dispatch;
    const resource = dispatch.resource;
    if (resource === undefined || !this.replicates(resource)) return dispatch;
    this.refused++;
    return {
      answer: Status.InvalidHost,
      reason: 'draining: this instance is saturated, use another member',
      details: { code: ErrorCode.Draining, redirect: [...redirect] },
    };
  }
}

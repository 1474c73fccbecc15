/**
 * The saturation plugin's stage: counts the requests peers send (regular dispatches
 * with a transaction, arriving on a channel) and the answers of status 500 and above
 * that leave. Synchronous and cheap: one comparison or two per dispatch, and the
 * dispatch passes unchanged.
 */
import type { Channel } from '../jstp/channel.js';
import type { Dispatch } from '../jstp/dispatch.js';
import { ErrorCode } from '../jstp/errors.js';
import type { Stage } from '../jstp/pipeline.js';

export class RequestMeter implements Stage {
  readonly name = 'saturation-meter';
  /** Requests received from peers since start. */
  requests = 0;
  /** Answers with status 500 or above sent since start. */
  errors = 0;

  inbound(dispatch: Dispatch, from: Channel | undefined): Dispatch {
    if (from !== undefined && dispatch.token !== undefined && dispatch.method !== 'ANSWER' && dispatch.resource !== undefined) this.requests++;
    return dispatch;
  }

  /** A drained instance's refusal is not a fault of the service: it does not count. */
  outbound(dispatch: Dispatch): Dispatch {
    if (dispatch.method === 'ANSWER') {
      const status = dispatch.resource![0];
      if (typeof status === 'number' && status >= 500 && (dispatch.body as { code?: unknown } | undefined)?.code !== ErrorCode.Draining) this.errors++;
    }
    return dispatch;
  }
}

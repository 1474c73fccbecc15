/**
 * Signs dispatches as one identity, with its sequence numbers: the part that the
 * gateway's stage and the client's share. Browser-safe.
 */
import type { Dispatch } from '../jstp/dispatch.js';
import { signDispatch, SIG_HEADER } from './dispatch-signature.js';
import type { Identity } from './identity.js';
import type { SequenceCounter } from './sequence.js';

export interface Signed {
  readonly dispatch: Dispatch;
  readonly protectedBytes: Uint8Array;
}

export class DispatchSigner {
  private signedCount = 0;

  constructor(readonly identity: Identity, readonly counter: SequenceCounter) {}

  /** A signed copy of `dispatch` (with `extra` headers, e.g. a grant, added unsigned). */
  sign(dispatch: Dispatch, externalAad?: Uint8Array, extra?: Record<string, unknown>): Signed {
    const { sig, protectedBytes } = signDispatch(this.identity, dispatch, this.counter.next(), externalAad);
    this.signedCount++;
    return { dispatch: { ...dispatch, ...extra, [SIG_HEADER]: sig }, protectedBytes };
  }

  get signed(): number {
    return this.signedCount;
  }
}

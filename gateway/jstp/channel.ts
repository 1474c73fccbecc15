/**
 * What the engine needs of a remote peer: a way to send it dispatches. Transports
 * implement it; the engine never knows which wire a channel uses.
 */
import type { Dispatch } from './dispatch.js';

export interface Channel {
  /** A short human-readable id for logs, e.g. `tcp 127.0.0.1:51234`. */
  readonly id: string;
  /** True once the channel can carry nothing more (the engine answers 502 at once then). */
  readonly isClosed?: boolean;
  /**
   * Queues a dispatch for the peer. `text`, when given, is the dispatch's exact JSON
   * wire form (the text it arrived in, relayed unchanged): a JSON wire may write it
   * instead of encoding the dispatch again. Must not throw for a closed channel
   * (drop it instead); the engine learns of a close through `Engine.detach`. Throws
   * only for a dispatch that cannot be encoded.
   */
  send(dispatch: Dispatch, text?: string): void;
}

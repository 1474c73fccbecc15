/**
 * What the engine needs of a remote peer: a way to send it dispatches. Transports
 * implement it; the engine never knows which wire a channel uses.
 */
import type { Dispatch } from './dispatch.js';

export interface Channel {
  /** A short human-readable id for logs, e.g. `tcp 127.0.0.1:51234`. */
  readonly id: string;
  /**
   * Queues a dispatch for the peer. Must not throw for a closed channel (drop it
   * instead); the engine learns of a close through `Engine.detach`.
   */
  send(dispatch: Dispatch): void;
}

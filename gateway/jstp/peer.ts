/**
 * A peer: the engine's local API aimed at one channel. Requests, emits and BINDs go
 * straight to that channel (through the outbound stages) instead of through the
 * subscription table, and a request's answers are taken from that channel only.
 * The client speaks to its server this way, and the serial link to its device.
 */
import type { Channel } from './channel.js';
import type { EndpointMethod, RegularMethod, ResourceElement } from './dispatch.js';
import type { Reply } from './reply.js';

export interface PeerRequestOptions {
  /** Hops the peer should forward the dispatch through. */
  host?: [string, number, string][];
  referer?: unknown;
  /** Extra headers to send along. */
  headers?: Record<string, unknown>;
}

export interface PeerEndpoint {
  method: EndpointMethod | Lowercase<EndpointMethod>;
  resource: readonly (string | number)[];
}

export interface Peer {
  readonly channel: Channel;
  /** A request to the peer; its answers (from that channel only) resolve the reply. */
  request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options?: PeerRequestOptions): Reply;
  /** A dispatch without a transaction. */
  emit(method: RegularMethod, resource: ResourceElement[], body?: unknown, options?: PeerRequestOptions): void;
  /**
   * Sends BIND: the peer then delivers what matches over this channel, where it
   * triggers the engine's local subscriptions. The reply says whether it took it.
   */
  bind(endpoint: PeerEndpoint): Reply;
  /** Sends RELEASE for an endpoint bound before. */
  release(endpoint: PeerEndpoint): Reply;
}

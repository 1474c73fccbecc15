/**
 * What a transport Connection calls on its engine: `receive` for each parsed
 * dispatch, `refuse` for one it could not restore, and `detach` once when it closes. Outbound connections (the client's,
 * the forwarding pool's) pass a sink in place of the engine to see both first.
 */
import type { Channel } from './jstp/channel.js';
import type { Engine } from './jstp/engine.js';

export interface ChannelSink {
  receive(raw: unknown, channel: Channel, text?: string): void;
  /** A dispatch the channel's codec read but could not restore (see Engine.refuse). */
  refuse(raw: Record<string, unknown>, channel: Channel, reason: string): void;
  detach(channel: Channel): void;
}

/**
 * The sink typed as the `engine` option of the transports' dial functions, which
 * ask for an Engine but only ever call `receive`, `refuse` and `detach` on it.
 */
export function sinkAsEngine(sink: ChannelSink): Engine {
  return sink as unknown as Engine;
}

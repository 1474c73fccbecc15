/**
 * What a transport Connection calls on its engine: `receive` for each parsed
 * dispatch and `detach` once when it closes. Outbound connections (the client's,
 * the forwarding pool's) pass a sink in place of the engine to see both first.
 */
import type { Channel } from './jstp/channel.js';
import type { Engine } from './jstp/engine.js';

export interface ChannelSink {
  receive(raw: unknown, channel: Channel, text?: string): void;
  detach(channel: Channel): void;
}

/**
 * The sink typed as the `engine` option of the transports' dial functions, which
 * ask for an Engine but only ever call `receive` and `detach` on it.
 */
export function sinkAsEngine(sink: ChannelSink): Engine {
  return sink as unknown as Engine;
}

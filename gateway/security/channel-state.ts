/** What a stage keeps per channel: made on first use, and gone with the channel (a WeakMap). Browser-safe. */
import type { Channel } from '../jstp/channel.js';

export function stateOf<S>(states: WeakMap<Channel, S>, channel: Channel, make: () => S): S {
  let state = states.get(channel);
  if (state === undefined) {
    state = make();
    states.set(channel, state);
  }
  return state;
}

/** Zigbee2MQTT-style plain JSON: `<topic>` carries the state, `<topic>/set` takes commands. */
import type { TopicConvention } from './convention.js';

export const plainJson: TopicConvention = {
  name: 'plain-json',
  state: ['{topic}'],
  availability: { topic: '{topic}/availability', online: 'online', offline: 'offline', field: 'state' },
  command: { topic: '{topic}/set', payload: 'json' },
};

/** Tasmota: telemetry on `tele/`, command results on `stat/`, commands on `cmnd/`, LWT on `tele/<topic>/LWT`. */
import type { TopicConvention } from './convention.js';

export const tasmota: TopicConvention = {
  name: 'tasmota',
  state: ['tele/{topic}/STATE', 'tele/{topic}/SENSOR', 'stat/{topic}/RESULT'],
  replies: ['stat/{topic}/RESULT'],
  availability: { topic: 'tele/{topic}/LWT', online: 'Online', offline: 'Offline' },
  command: { topic: 'cmnd/{topic}/{command}', payload: 'text' },
};

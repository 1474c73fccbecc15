/**
 * A topic convention as data: where a device's state, availability and commands
 * live, relative to its base topic (`{topic}`). Plain JSON (Zigbee2MQTT style) and
 * Tasmota are such data; Homie, whose devices describe themselves, is discovery
 * code of its own (homie.ts).
 */
export interface TopicConvention {
  readonly name: string;
  /** Topics whose payload is a JSON state document; properties are found in it by path. */
  readonly state: readonly string[];
  /**
   * State topics that answer commands (Tasmota's `stat/`), as opposed to periodic
   * telemetry; an action without an expected value is confirmed only by these.
   * Default: every state topic.
   */
  readonly replies?: readonly string[];
  /** Where the device (or its LWT) says whether it is online. */
  readonly availability?: {
    readonly topic: string;
    readonly online: string;
    readonly offline: string;
    /** When the payload is a JSON object, the field holding the state (Zigbee2MQTT's `{"state":"online"}`). */
    readonly field?: string;
  };
  /**
   * Where a write or an action goes. `{command}` is the property's or action's command.
   * `json`: a JSON document carrying the value at the property's path; `text`: the value as text.
   */
  readonly command: { readonly topic: string; readonly payload: 'json' | 'text' };
}

/** Fills `{topic}` and `{command}` in a topic template. */
export function fillTopic(template: string, topic: string, command = ''): string {
  return template.replaceAll('{topic}', topic).replaceAll('{command}', command);
}

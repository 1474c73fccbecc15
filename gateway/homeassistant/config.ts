/**
 * The `homeassistant` config section:
 *
 * ```yaml
 * mqtt: { url: mqtt://192.168.1.10:1883 }      # the broker Home Assistant uses
 * homeassistant: { discovery: true, prefix: homeassistant }
 * ```
 */
import { z } from 'zod';

/** One MQTT topic level, free of wildcards and separators. */
const topicLevel = z.string().regex(/^[^/+#\s]+$/, 'one topic level (no /, + or #)');

export const homeAssistantSchema = z.strictObject({
  /** Publish every device through MQTT discovery (default true once the section is there). */
  discovery: z.boolean().default(true),
  /** Home Assistant's discovery prefix, as set in its MQTT integration. */
  prefix: topicLevel.default('homeassistant'),
  /** Names this gateway: the first level of its state and command topics, and the start of every unique id. */
  node: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, - and _').default('pasarela'),
  /** Seconds between reads of properties a device does not report by itself (0: read them only when it comes online). */
  pollSeconds: z.number().int().min(0).default(60),
});

export type HomeAssistantSettings = z.output<typeof homeAssistantSchema>;

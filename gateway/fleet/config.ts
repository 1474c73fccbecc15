/**
 * The `fleet` config section: this gateway's name in the fleet and the NATS cluster
 * that carries it. Without the section nothing of the fleet loads.
 */
import { z } from 'zod';

const natsUrl = z.string().regex(/^(nats|tls|ws|wss):\/\/[^/\s]+$/, 'a NATS server URL (nats://host:port)');

export const fleetNatsSchema = z.strictObject({
  servers: z.array(natsUrl).min(1),
  user: z.string().optional(),
  pass: z.string().optional(),
  token: z.string().optional(),
  /**
   * Add the servers the cluster advertises to the list (default). Off where those
   * addresses are not reachable from here (behind NAT, a proxy or a tunnel).
   */
  discover: z.boolean().default(true),
});

export const fleetSchema = z.strictObject({
  /** Unique in the fleet; the `host` address of `nats` hops and the second element of `["fleet", name, ...]`. */
  name: z.string().min(1).max(64).regex(/^[^\s/*]+$/, 'a name without spaces, slashes or *'),
  nats: fleetNatsSchema,
  /** How often this gateway tells the fleet it is alive (ms). */
  heartbeatMs: z.number().int().min(200).max(60_000).default(2_000),
  /** A member silent this long is shown offline (ms); at most 10 s by default. */
  offlineAfterMs: z.number().int().min(500).max(600_000).default(6_000),
  /**
   * Replicated services this gateway serves: resource prefixes that any one gateway
   * of the fleet may answer, `["fleet", "*", service, ...]`, balanced by a NATS queue
   * group. A gateway whose saturation is critical leaves the group until it clears.
   */
  services: z.array(z.string().min(1)).default([]),
  /** How long a standby device's lease lives without renewal (ms): the takeover time. */
  leaseTtlMs: z.number().int().min(1_000).max(600_000).default(6_000),
});

export type FleetConfig = z.output<typeof fleetSchema>;

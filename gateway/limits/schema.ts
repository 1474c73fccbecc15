/**
 * The `limits:` config section: every bound the gateway puts on what a peer can make
 * it hold or do. Defaults and the reasons for them: docs/limits.md. Each one is named
 * by its key here in logs, in 400 answers and in `GET ["gateway", "limits"]`.
 */
import { z } from 'zod';

/** The deepest header value the compact CBOR encoder writes (the dispatch map is level 1 of its 32). */
export const MAX_ENCODABLE_DEPTH = 31;

const count = z.number().int().positive();
const bytes = z.number().int().min(1024);
/** 0 switches the timer off. */
const milliseconds = z.number().int().min(0);

export const limitsSchema = z.strictObject({
  /** Elements of a dispatch's resource or of an endpoint pattern. */
  maxResourceElements: count.max(256).default(32),
  /** UTF-8 bytes of those elements together. */
  maxResourceBytes: z.number().int().min(16).default(1024),
  /** `host` hops of one dispatch, and engines in its `via` trace. */
  maxHops: count.max(255).default(8),
  /** Nesting of any header value (`body`, `referer`, ...): `{}` is 1. */
  maxDepth: count.max(MAX_ENCODABLE_DEPTH).default(16),
  /** Subscriptions one connection may hold. */
  maxSubscriptionsPerConnection: count.default(1000),
  /** Subscriptions the gateway holds in all, its own included. */
  maxSubscriptions: count.default(10_000),
  /** Open JSTP connections (TCP and WebSocket together). */
  maxConnections: count.default(1000),
  /** Open JSTP connections from one remote address. */
  maxConnectionsPerAddress: count.default(100),
  /** One dispatch as it arrives: a JSON line, a WebSocket message, a CBOR item. */
  maxDispatchBytes: bytes.default(1024 * 1024),
  /** Input of all connections that is not a whole dispatch yet. */
  maxPendingInputBytes: bytes.default(64 * 1024 * 1024),
  /** Time a peer has to finish a dispatch it started sending. */
  lineTimeoutMs: milliseconds.default(10_000),
  /** Output waiting for one slow peer before it is disconnected. */
  maxBufferedOutputBytes: bytes.default(8 * 1024 * 1024),
  /** TCP keepalive: the kernel probes a connection quiet this long. */
  keepAliveMs: milliseconds.default(30_000),
  /** The JSTP-level probe of a quiet TCP peer that holds subscriptions (transports/idle-probe.ts). */
  idleProbeMs: milliseconds.default(30_000),
});

export type Limits = z.output<typeof limitsSchema>;
export type LimitName = keyof Limits;

/** Every default, as the schema gives them. */
export function defaultLimits(): Limits {
  return limitsSchema.parse({});
}

/**
 * The `uplinks:` config section: where each uplink dials, what it forwards (JSTP
 * patterns written `METHOD a/b/...`), whether the far side may call in, and the bounds
 * of its durable buffer. Sizes may be written with units (`256MB`, `64MiB`).
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { backoffProblems, type BackoffOptions } from '../jstp/backoff.js';
import { METHODS, type EndpointMethod } from '../jstp/dispatch.js';
import { normalizePattern } from '../jstp/endpoint.js';

/**
 * URL schemes an uplink can dial. The fleet issue adds `nats`; a scheme is listed here
 * and gets a dialer (gateway/uplinks/dialers.ts) to be usable.
 */
export const UPLINK_SCHEMES: readonly string[] = ['tcp', 'ws', 'wss'];

export const DEFAULT_MAX_BYTES = 256 * 1000 * 1000;
export const DEFAULT_MAX_AGE_S = 7 * 24 * 3600;

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** `256MB` -> 256000000, `64MiB` -> 67108864, `1024` -> 1024; undefined when unreadable. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return bytes > 0 ? bytes : undefined;
}

export interface ForwardPattern {
  /** As written in the config, for logs. */
  readonly text: string;
  readonly method: EndpointMethod;
  readonly resource: string[];
}

const ENDPOINT_METHODS: readonly string[] = ['*', ...METHODS];

/** `PATCH devices/...` -> { method: PATCH, resource: [devices, ...] }; a string saying what is wrong otherwise. */
export function parseForwardPattern(text: string): ForwardPattern | string {
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(text);
  if (!match) return 'a JSTP pattern "METHOD a/b/c" (e.g. "PATCH devices/...")';
  const method = match[1]!.toUpperCase();
  if (!ENDPOINT_METHODS.includes(method)) return `a method (${ENDPOINT_METHODS.join(', ')}) before the pattern, got "${match[1]}"`;
  const elements = match[2]!.split('/').filter((element) => element !== '');
  const normalized = normalizePattern(elements, 'strict');
  if (!normalized.ok) return `a valid pattern (${normalized.reason})`;
  return { text: text.trim(), method: method as EndpointMethod, resource: normalized.pattern };
}

// Refinements, not transforms: a parsed config is parsed again after the flags are
// merged into it, so what the schema outputs must pass the schema too.
const sizeSchema = z
  .union([z.number(), z.string()])
  .refine((value) => parseSize(value) !== undefined, 'a size above 0: a number of bytes, or a number with KB, MB, GB, KiB, MiB or GiB');

export const bufferSchema = z.strictObject({
  /** The SQLite file; relative to the config's folder. Uplinks naming the same file share it. */
  path: z.string().min(1).optional(),
  maxBytes: sizeSchema.default(DEFAULT_MAX_BYTES),
  maxAgeS: z.number().positive().default(DEFAULT_MAX_AGE_S),
  whenFull: z.enum(['drop-oldest', 'refuse-new']).default('drop-oldest'),
});

const reconnectSchema = z.custom<BackoffOptions>().superRefine((value, ctx) => {
  for (const problem of backoffProblems(value)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
});

/** `nats:` names the fleet's cluster (the `fleet` section says where it is), so it needs no host. */
const HOSTLESS_SCHEMES: readonly string[] = ['nats'];

const urlSchema = z.string().refine((value) => {
  try {
    const url = new URL(value);
    const scheme = url.protocol.slice(0, -1);
    if (HOSTLESS_SCHEMES.includes(scheme)) return true;
    return UPLINK_SCHEMES.includes(scheme) && url.hostname !== '' && url.port !== '';
  } catch {
    return false;
  }
}, `a URL with a host and a port, scheme ${UPLINK_SCHEMES.map((scheme) => `${scheme}://`).join(', ')}, or nats: (the fleet)`);

const forwardSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseForwardPattern(value);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

export const uplinkSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a name of letters, digits, "_", "." and "-"'),
  url: urlSchema,
  forward: z.array(forwardSchema).default([]),
  /** The far side may GET, PUT, POST and BIND on this gateway over the uplink. */
  serve: z.boolean().default(false),
  /** The name forwarded dispatches carry in their id; the far end dedups per sender (default `<host name>/<uplink name>`). */
  sender: z.string().min(1).max(200).optional(),
  buffer: bufferSchema.prefault({}),
  reconnect: reconnectSchema.optional(),
  connectTimeoutMs: z.number().int().positive().default(5_000),
});

export const uplinksSchema = z.array(uplinkSchema).superRefine((uplinks, ctx) => {
  const names = new Set<string>();
  const senders = new Set<string>();
  uplinks.forEach((uplink, index) => {
    if (names.has(uplink.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `a unique uplink name ("${uplink.name}" is used twice)` });
    names.add(uplink.name);
    const sender = senderOf(uplink);
    if (senders.has(sender)) {
      ctx.addIssue({ code: 'custom', path: [index, 'sender'], message: `a sender no other uplink uses ("${sender}"): a far end tells streams apart by it` });
    }
    senders.add(sender);
  });
});

export type UplinkConfig = z.output<typeof uplinkSchema>;
export type BufferConfig = z.output<typeof bufferSchema>;

/** The sender name of an uplink's dispatch ids. */
export function senderOf(uplink: Pick<UplinkConfig, 'name' | 'sender'>): string {
  return uplink.sender ?? `${hostname()}/${uplink.name}`;
}

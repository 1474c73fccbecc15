/**
 * The `cluster` section of the config: the instances of one service find each other
 * and drain at critical.
 */
import { z } from 'zod';
import { normalizePattern } from '../jstp/endpoint.js';

const memberUrl = z.url({ protocol: /^(tcp|ws|wss)$/, error: 'a member URL (tcp://host:port, ws:// or wss://)' });

const resourcePattern = z
  .array(z.union([z.string(), z.number()]))
  .min(1)
  .superRefine((pattern, ctx) => {
    const normalized = normalizePattern(pattern, 'strict');
    if (!normalized.ok) ctx.addIssue({ code: 'custom', message: `a JSTP resource pattern (${normalized.reason})` });
  });

export const clusterSchema = z.strictObject({
  /** The service's name: instances join only a cluster of the same name. */
  name: z.string().min(1),
  /** Members to announce this instance to; they tell it of the others. */
  join: z.array(memberUrl).default([]),
  /** This instance's id among the members (default: host name and TCP port). */
  member: z.string().min(1).optional(),
  /** The URLs others reach this instance at (default: the listen address and the bound ports). */
  advertise: z.array(memberUrl).default([]),
  /** Resource patterns of the services every member serves: refused (503, redirect) while draining. */
  replicated: z.array(resourcePattern).default([]),
  /** Drain at critical: refuse new balancing links and new requests for replicated services. */
  drain: z.boolean().default(true),
  /** A member whose link has been down this long has left (default 15 s). */
  leaveAfterS: z.number().positive().default(15),
});

export type ClusterConfig = z.output<typeof clusterSchema>;

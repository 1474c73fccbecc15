/**
 * The `drivers:` section: drivers loaded from outside Pasarela, each a package (from
 * the `node_modules` of the config file's folder) or a file (relative to it).
 *
 * ```yaml
 * drivers:
 *   - { module: pasarela-driver-hue, options: { bridge: 192.168.1.20 } }
 *   - { module: ./drivers/my-lamp.js, name: lamp, restart: { initialMs: 500, maxMs: 30000 } }
 * ```
 */
import { z } from 'zod';
import { backoffProblems, type BackoffOptions } from '../jstp/backoff.js';

/** `false`: a failed driver stays failed; otherwise the backoff of its restarts. */
const restartSchema = z.custom<BackoffOptions | false>().superRefine((value, ctx) => {
  if (value === false) return;
  for (const problem of backoffProblems(value)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message.replace(/^(must be|is)\s+/, '') });
});

export const driverEntrySchema = z.strictObject({
  /** A package name (`pasarela-driver-hue`, `@me/lamp/driver`) or a path (`./drivers/my-lamp.js`). */
  module: z.string().min(1),
  /** Runs the driver under this name instead of its own (two of the same kind). */
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a driver name (lower case letters, digits and -)').optional(),
  /** The driver's `context.options`, and its factory's argument. */
  options: z.record(z.string(), z.unknown()).optional(),
  restart: restartSchema.optional(),
});

export type DriverEntry = z.output<typeof driverEntrySchema>;

export const driversSchema = z.array(driverEntrySchema).default([]);

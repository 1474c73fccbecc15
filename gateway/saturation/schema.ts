/**
 * The `saturation` section of the config: how often to report, what to watch, the
 * thresholds of each resource, and the command to run at critical.
 */
import { z } from 'zod';
import { DEFAULT_THRESHOLDS } from './levels.js';

const fraction = z.number().min(0).max(1);

/** One resource's thresholds (each defaults on its own), or `false` to leave it out of the level. */
const thresholdsSchema = z
  .union([
    z.literal(false),
    z.strictObject({
      warn: fraction.default(DEFAULT_THRESHOLDS.warn),
      critical: fraction.default(DEFAULT_THRESHOLDS.critical),
      clear: fraction.default(DEFAULT_THRESHOLDS.clear),
    }),
  ])
  .superRefine((value, ctx) => {
    if (value === false) return;
    if (!(value.clear <= value.warn && value.warn <= value.critical)) {
      ctx.addIssue({ code: 'custom', message: `clear <= warn <= critical (got clear ${value.clear}, warn ${value.warn}, critical ${value.critical})` });
    }
  });

const resourceThresholds = thresholdsSchema.prefault({});

export const thresholdsSectionSchema = z.strictObject({
  cpu: resourceThresholds,
  eventLoop: resourceThresholds,
  memory: resourceThresholds,
  disk: resourceThresholds,
  network: resourceThresholds,
});

export const onCriticalSchema = z.strictObject({
  /** A shell command; it gets the report in PASARELA_SATURATION (JSON). */
  run: z.string().min(1),
  /** At most one run per this many seconds. */
  cooldownS: z.number().positive().default(300),
});

export const saturationSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Seconds between two reports (PATCH ["gateway", "saturation"]); samples are taken every min(1 s, period / 2). */
  periodS: z.number().min(1).max(3600).default(5),
  /** The data folder, whose filesystem is watched (relative to the config file's folder). */
  dataDir: z.string().min(1).default('.'),
  /** More paths whose filesystems are watched (a few: each report stays under 1 KB). */
  paths: z.array(z.string().min(1)).max(3).default([]),
  /** Network interfaces to report; empty: the busiest non-loopback ones (up to 4). */
  interfaces: z.array(z.string().min(1)).max(4).default([]),
  /** Samples in a row that must call for a level change. */
  sustain: z.number().int().min(1).max(100).default(3),
  /** At least this many seconds between two level changes. */
  windowS: z.number().min(0).default(10),
  thresholds: thresholdsSectionSchema.prefault({}),
  onCritical: onCriticalSchema.optional(),
});

export type SaturationConfig = z.output<typeof saturationSchema>;

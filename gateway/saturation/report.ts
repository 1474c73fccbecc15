/**
 * The saturation report: what `GET ["gateway", "saturation"]` answers and what
 * `PATCH ["gateway", "saturation"]` carries every period. Types and the reader of a
 * report that came over the wire; no Node imports, so the balancing client (in
 * browsers too) and the fleet read the same format.
 */

export const LEVELS = ['ok', 'warn', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

/** The parts that make up the overall utilization, each 0 to 1. */
export const RESOURCES = ['cpu', 'eventLoop', 'memory', 'disk', 'network'] as const;
export type Resource = (typeof RESOURCES)[number];

/** What a report says when it cannot measure something, instead of guessing. */
export const UNAVAILABLE = 'unavailable';
export type Unavailable = typeof UNAVAILABLE;
export type Measured<T> = T | Unavailable;

export interface CpuFigures {
  /** Busy fraction of the CPUs this process may run on (its affinity: taskset, cpusets). */
  machine: Measured<number>;
  /** This process's CPU time as a fraction of those CPUs. */
  process: number;
  /** How many CPUs that is. */
  cores: number;
  /** PSI `some avg10` of /proc/pressure/cpu, as a fraction. */
  psi: Measured<number>;
  eventLoop: {
    /** p99 of the event loop's delay over the last sample, in ms. */
    delayP99Ms: number;
    /** Fraction of the time the event loop was busy (Node's eventLoopUtilization). */
    utilization: number;
  };
}

export interface MemoryFigures {
  availableBytes: number;
  /** The machine's memory, or the cgroup's limit when that is lower. */
  totalBytes: number;
  rssBytes: number;
  psi: Measured<number>;
}

export type DiskFigures =
  /** `freeBytes` is what a non-root process may still write; the part is `usedBytes / (usedBytes + freeBytes)`, df's Use%. */
  | { path: string; freeBytes: number; usedBytes: number; totalBytes: number }
  | { path: string; unavailable: string };

export type NetworkFigures =
  | {
      interface: string;
      rxBytesPerS: number;
      txBytesPerS: number;
      /** The busier direction against the link speed; unavailable when the speed is unknown (virtual links). */
      utilization: Measured<number>;
    }
  /** A configured interface that is not there. */
  | { interface: string; unavailable: string };

export interface SaturationReport {
  /** Counts up from 1 for each report an engine makes. */
  seq: number;
  /** When it was measured, ms since the epoch. */
  at: number;
  /** The report period: a report older than three periods is stale. */
  periodS: number;
  level: Level;
  /** The largest counted part, 0 to 1. */
  utilization: number;
  /** The part that sets `utilization`; null when none is counted. */
  limiting: Resource | null;
  /** Each part's utilization; parts left out by the config are absent. */
  parts: Partial<Record<Resource, Measured<number>>>;
  cpu: CpuFigures;
  memory: MemoryFigures;
  disk: { psi: Measured<number>; paths: DiskFigures[] };
  /** Unavailable without /proc/net/dev. */
  network: Measured<NetworkFigures[]>;
  /** Remote requests served, and answers of status 500 and above, per second. */
  requests: { perS: number; errorsPerS: number };
}

/** A level change, as `POST ["gateway", "events", "saturation"]` carries it. */
export interface LevelChange {
  from: Level;
  to: Level;
  at: number;
  seq: number;
  utilization: number;
  limiting: Resource | null;
  parts: SaturationReport['parts'];
}

export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** The largest measured part and its name; parts that are unavailable do not count. */
export function overallUtilization(parts: SaturationReport['parts']): { utilization: number; limiting: Resource | null } {
  let utilization = 0;
  let limiting: Resource | null = null;
  for (const resource of RESOURCES) {
    const value = parts[resource];
    if (typeof value !== 'number') continue;
    if (limiting === null || value > utilization) {
      utilization = value;
      limiting = resource;
    }
  }
  return { utilization, limiting };
}

/** What a balancer needs of a report that came over the wire. */
export interface LoadFigures {
  seq: number;
  periodS: number;
  level: Level;
  utilization: number;
  qps: number;
  eps: number;
}

function finite(value: unknown, min: number, max = Number.POSITIVE_INFINITY): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/**
 * Reads the figures a balancer uses from an untrusted report body; undefined when it
 * is not a report (so a peer's garbage never becomes a weight).
 */
export function readLoad(body: unknown): LoadFigures | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const report = body as Partial<SaturationReport>;
  const requests = report.requests as Partial<SaturationReport['requests']> | undefined;
  if (!finite(report.seq, 0) || !finite(report.periodS, 0.001) || !finite(report.utilization, 0)) return undefined;
  if (typeof report.level !== 'string' || !(LEVELS as readonly string[]).includes(report.level)) return undefined;
  const qps = requests?.perS;
  const eps = requests?.errorsPerS;
  return {
    seq: report.seq,
    periodS: report.periodS,
    level: report.level,
    utilization: Math.min(report.utilization, 1),
    qps: finite(qps, 0) ? qps : 0,
    eps: finite(eps, 0) ? eps : 0,
  };
}

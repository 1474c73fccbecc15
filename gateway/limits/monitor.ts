/**
 * Counts every time a limit is hit and logs it, at most once per limit and peer per
 * minute (with how many went unlogged since), so that a peer that keeps pushing
 * cannot fill the log or the disk. The counts are part of the gateway's stats
 * (`GET ["gateway", "limits"]`).
 */
import type { Logger } from '../jstp/logger.js';
import type { LimitReporter } from '../transports/limit-reporter.js';

export interface LimitMonitorOptions {
  logger: Logger;
  /** One log line per limit and peer per this long (default 60 s). */
  logEveryMs?: number;
  now?: () => number;
}

interface LastLogged {
  at: number;
  suppressed: number;
}

/** Keys kept for rate limiting at most; past that, old ones are forgotten first. */
const MAX_TRACKED = 4096;

export class LimitMonitor implements LimitReporter {
  private readonly logger: Logger;
  private readonly logEveryMs: number;
  private readonly now: () => number;
  private readonly counts = new Map<string, number>();
  private readonly logged = new Map<string, LastLogged>();

  constructor(options: LimitMonitorOptions) {
    this.logger = options.logger;
    this.logEveryMs = options.logEveryMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  exceeded(limit: string, peer: string, detail: Record<string, unknown> = {}): void {
    this.counts.set(limit, (this.counts.get(limit) ?? 0) + 1);
    const key = `${limit}\u0000${peer}`;
    const now = this.now();
    const last = this.logged.get(key);
    if (last && now - last.at < this.logEveryMs) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    // Re-inserted, so the map's order is the order keys were last logged in.
    this.logged.delete(key);
    this.logged.set(key, { at: now, suppressed: 0 });
    this.forgetOld(now);
    this.logger.warn({ limit, peer, ...detail, ...(suppressed > 0 ? { suppressed } : {}) }, 'limit exceeded');
  }

  /** Times each limit was hit, by name (limits never hit are absent). */
  stats(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  private forgetOld(now: number): void {
    for (const [key, last] of this.logged) {
      if (this.logged.size <= MAX_TRACKED && now - last.at < this.logEveryMs) return;
      this.logged.delete(key);
    }
  }
}

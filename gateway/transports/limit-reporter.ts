/**
 * How a transport reports input that went over one of its limits (types only). The
 * gateway implements it (gateway/limits/monitor.ts): each report is counted in the
 * gateway's stats and logged at most once per peer and limit per minute, so a flood
 * cannot flood the log.
 */
export interface LimitReporter {
  /**
   * `limit` is the limit's name as in the `limits:` config section (`maxConnections`,
   * `lineTimeoutMs`...); `peer` the remote address it came from.
   */
  exceeded(limit: string, peer: string, detail?: Record<string, unknown>): void;
}

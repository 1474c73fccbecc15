/**
 * node-jstp (npm `jstp` 1.1.5) loaded in this process, for benches that compare
 * against it. It is a module-level singleton that logs every dispatch with
 * console.log, so callers reset it between cases and run it inside `quietly()`.
 */
import jstp from 'jstp';

export type NodeJstp = jstp.Engine;
export type NodeJstpCallback = jstp.Callback;

/** The singleton, emptied of subscriptions and transactions. */
export function freshNodeJstp(): NodeJstp {
  jstp.bound = [];
  jstp.transactionIDs = {};
  return jstp;
}

/**
 * Runs `work` with console.log/info/warn/error discarded, and restores them after,
 * including after the ticks node-jstp schedules while `work` awaits. Its log lines
 * are still formatted (with cli-color) before being discarded: that cost is its own.
 */
export async function quietly<T>(work: () => Promise<T> | T): Promise<T> {
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const discard = (): void => undefined;
  console.log = console.info = console.warn = console.error = discard;
  try {
    return await work();
  } finally {
    Object.assign(console, saved);
  }
}

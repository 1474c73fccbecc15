/**
 * Stands in for `pino` in the browser bundle (scripts/build-web.mjs aliases it).
 * The engine only uses pino for its default, silent logger; the page passes its own
 * logger, so pino's browser build (about a third of the bundle) would be dead weight.
 */
const noop = (): void => undefined;

interface SilentLogger {
  level: string;
  fatal(): void;
  error(): void;
  warn(): void;
  info(): void;
  debug(): void;
  trace(): void;
  child(): SilentLogger;
}

export function pino(): SilentLogger {
  const logger: SilentLogger = {
    level: 'silent',
    fatal: noop,
    error: noop,
    warn: noop,
    info: noop,
    debug: noop,
    trace: noop,
    child: () => logger,
  };
  return logger;
}

export default pino;

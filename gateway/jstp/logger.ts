/**
 * The logger the engine and every library module take. Structurally a subset of
 * pino's Logger, so a pino logger can be passed as it is; the engine itself needs
 * no logging library at run time (browsers bundle it).
 */

/** pino's calling conventions: `log(message)` or `log({ fields }, message)`. */
export interface LogFn {
  (message: string): void;
  (fields: object, message?: string): void;
}

export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

const ignore: LogFn = () => {};

const SILENT: Logger = {
  fatal: ignore,
  error: ignore,
  warn: ignore,
  info: ignore,
  debug: ignore,
  trace: ignore,
  child: () => SILENT,
};

/** The logger used when none is injected: library code never writes to the console. */
export function silentLogger(): Logger {
  return SILENT;
}

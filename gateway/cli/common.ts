/**
 * What the `pasarela` subcommands share: writing to stdout/stderr (the command is
 * the only code allowed to), the logger, exit codes, usage errors and the argument
 * and client helpers of `call` and `watch`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { PrettyOptions, PrettyStream } from 'pino-pretty';
import { connect, type Client, type ClientTlsTrust, type Stage } from '../client.js';
import type { LogLevel } from '../config.js';

/** Exit codes: 0 ok, 1 failure (no 2xx, cannot connect, cannot listen), 2 bad usage or config. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const DEFAULT_URL = 'tcp://127.0.0.1:33333';

/** Bad arguments: reported with a hint to `--help`, exit code 2. */
export class UsageError extends Error {}

// ---- output -------------------------------------------------------------------------

let stdoutGone = false;
const stdoutGoneListeners = new Set<() => void>();

// The reader of a pipe went away (`pasarela watch ... | head -3`): not a failure, and
// nothing more can be written. Other stdout errors stay fatal.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  if (stdoutGone) return;
  stdoutGone = true;
  for (const listener of stdoutGoneListeners) listener();
});

/** Calls `listener` once stdout's reader has gone away; returns the function that stops listening. */
export function onStdoutGone(listener: () => void): () => void {
  if (stdoutGone) {
    listener();
    return () => undefined;
  }
  stdoutGoneListeners.add(listener);
  return () => stdoutGoneListeners.delete(listener);
}

export function out(line: string): void {
  if (!stdoutGone) process.stdout.write(`${line}\n`);
}

export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Resolves once what was written to stdout and stderr is handed to the OS. */
export function flushed(): Promise<void> {
  const drain = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  return Promise.all([stdoutGone ? undefined : drain(process.stdout), drain(process.stderr)]).then(() => undefined);
}

const require = createRequire(import.meta.url);

/**
 * pino: pretty on a terminal, JSON lines otherwise (written synchronously, so nothing
 * is lost at exit). The pretty printer is loaded only for a terminal: a service never does.
 */
export function createLogger(level: LogLevel, fd: 1 | 2): Logger {
  const stream = fd === 1 ? process.stdout : process.stderr;
  if (stream.isTTY) {
    const pretty = require('pino-pretty') as (options: PrettyOptions) => PrettyStream;
    return pino({ level }, pretty({ destination: fd, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level }, pino.destination({ dest: fd, sync: true }));
}

// ---- arguments ----------------------------------------------------------------------

/** An upper-cased METHOD from `allowed`, or a usage error listing them. */
export function parseMethod(value: string | undefined, allowed: readonly string[]): string {
  if (value === undefined) throw new UsageError('missing METHOD');
  const method = value.toUpperCase();
  if (!allowed.includes(method)) throw new UsageError(`METHOD: expected one of ${allowed.join(', ')}, got "${value}"`);
  return method;
}

/** `a/b/c` -> ["a", "b", "c"]; elements stay strings (patterns compare numbers by their text). */
export function parsePath(what: string, path: string | undefined): string[] {
  if (path === undefined) throw new UsageError(`missing ${what}`);
  const elements = path.split('/').filter((element) => element !== '');
  if (elements.length === 0) throw new UsageError(`${what} "${path}" has no elements`);
  return elements;
}

/** Throws a usage error for a positional argument past the expected ones. */
export function noExtra(extra: readonly string[]): void {
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
}

// ---- talking to a gateway -------------------------------------------------------------

/** Why a client could not connect, as specific as what the dialer reported. */
export function connectFailure(url: string, error: unknown): string {
  let reason = error instanceof Error ? error.message : String(error);
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause instanceof Error) {
    reason = cause.message;
    cause = cause.cause;
  }
  return `cannot connect to ${url}: ${reason}`;
}

/** `--ca FILE` and `--pin sha256/...`: what a tls:// or wss:// client trusts. */
export function tlsTrust(values: { ca?: string; pin?: string }): ClientTlsTrust | undefined {
  if (values.ca === undefined && values.pin === undefined) return undefined;
  if (values.pin !== undefined && !/^sha256\/[A-Za-z0-9+/]{43}=$/.test(values.pin)) {
    throw new UsageError(`--pin: expected sha256/ and the base64 of 32 bytes (as \`pasarela cert new\` prints it), got "${values.pin}"`);
  }
  let ca: string | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca, 'utf8');
    } catch (error) {
      throw new UsageError(`--ca: cannot read ${values.ca} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  return { ...(ca === undefined ? {} : { ca }), ...(values.pin === undefined ? {} : { pin: values.pin }) };
}

/** The flags every command that talks to a gateway takes, beside --url. */
export const TRUST_FLAGS = { ca: { type: 'string' }, pin: { type: 'string' } } as const;

/** A client for a command; `stages` in order (inbound order; outbound runs them in reverse). */
export function openClient(url: string, options: { tls?: ClientTlsTrust; stages?: readonly Stage[] } = {}): Client {
  let client: Client;
  try {
    // No reconnecting: a command line tool reports a dead gateway instead of waiting.
    client = connect(url, { reconnect: false, logger: createLogger('warn', 2), ...(options.tls ? { tls: options.tls } : {}) });
  } catch (error) {
    throw new UsageError(`--url: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const stage of options.stages ?? []) client.use(stage);
  return client;
}

#!/usr/bin/env node
/**
 * The `pasarela` command: runs a gateway, or talks to one (`call`, `watch`).
 * The only module allowed to write to stdout/stderr directly.
 */
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { connect, type Client, type EndpointInput } from './client.js';
import { applyOverrides, ConfigError, defaultConfig, loadConfig, LOG_LEVELS, type Config, type ConfigOverrides, type LogLevel } from './config.js';
import { bleStarters } from './devices/ble-starter.js';
import { mqttStarters } from './devices/mqtt-starter.js';
import { serialStarters } from './devices/serial-starter.js';
import { packageVersion, startGateway, type Gateway } from './gateway.js';
import { REGULAR_METHODS, type RegularMethod } from './jstp/dispatch.js';
import { Status, statusText } from './jstp/errors.js';

const DEFAULT_URL = 'tcp://127.0.0.1:33333';
/** How long SIGINT/SIGTERM wait for a clean close before exiting anyway. */
const CLOSE_DEADLINE_MS = 2_000;

/** Exit codes: 0 ok, 1 failure (no 2xx, cannot connect, cannot listen), 2 bad usage or config. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const USAGE = `Usage:
  pasarela [--config FILE] [--demo] [--host H] [--tcp N] [--http N] [--forwarding] [--log-level L]
  pasarela call METHOD a/b/c [--body JSON] [--emit] [--url tcp://127.0.0.1:33333]
  pasarela watch METHOD a/*/c [--url tcp://127.0.0.1:33333]

Run a gateway:
  --config FILE     YAML (.yaml, .yml) or JSON (.json) config; flags override it
  --demo            the gateway with the simulated devices
  --host H          address to listen on (default 127.0.0.1)
  --tcp N           JSTP over TCP port (default 33333; 0 picks a free port)
  --http N          HTTP + JSTP over WebSocket port (default 8080; 0 picks a free port)
  --forwarding      enable forwarding (dispatches with a host header)
  --log-level L     ${LOG_LEVELS.join(', ')} (default info)

Talk to a gateway (--url: tcp://, ws:// or wss://):
  call METHOD PATH  send one dispatch, print every answer: status, status text, body
                    (exit 0 if a 2xx came, 1 otherwise); with --emit, send it
                    without a transaction (nobody answers) and exit 0 once sent
  watch METHOD PAT  bind PAT (elements *, ..., :name) and print each matching dispatch
                    until Ctrl-C; METHOD may be *

  -h, --help        this help
  -v, --version     the version
`;

class UsageError extends Error {}

// ---- output -------------------------------------------------------------------------

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Resolves once what was written to stdout and stderr is handed to the OS. */
function flushed(): Promise<void> {
  const drain = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  return Promise.all([drain(process.stdout), drain(process.stderr)]).then(() => undefined);
}

/** pino: pretty on a terminal, JSON lines otherwise (written synchronously, so nothing is lost at exit). */
function createLogger(level: LogLevel, fd: 1 | 2): Logger {
  const stream = fd === 1 ? process.stdout : process.stderr;
  if (stream.isTTY) {
    return pino({ level }, pretty({ destination: fd, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level }, pino.destination({ dest: fd, sync: true }));
}

// ---- argument helpers -------------------------------------------------------------

function parsePort(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`--${flag}: expected a port number 0-65535, got "${value}"`);
  }
  return Number(value);
}

function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  }
  return value as LogLevel;
}

/** `a/b/c` -> ["a", "b", "c"]; elements stay strings (patterns compare numbers by their text). */
function parsePath(what: string, path: string | undefined): string[] {
  if (path === undefined) throw new UsageError(`missing ${what}`);
  const elements = path.split('/').filter((element) => element !== '');
  if (elements.length === 0) throw new UsageError(`${what} "${path}" has no elements`);
  return elements;
}

function parseBody(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`--body: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Why a client could not connect, as specific as what the dialer reported. */
function connectFailure(url: string, error: unknown): string {
  let reason = error instanceof Error ? error.message : String(error);
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause instanceof Error) {
    reason = cause.message;
    cause = cause.cause;
  }
  return `cannot connect to ${url}: ${reason}`;
}

function openClient(url: string): Client {
  try {
    // No reconnecting: a command line tool reports a dead gateway instead of waiting.
    return connect(url, { reconnect: false, logger: createLogger('warn', 2) });
  } catch (error) {
    throw new UsageError(`--url: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// ---- pasarela [options]: run a gateway ------------------------------------------------

async function serve(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      demo: { type: 'boolean' },
      host: { type: 'string' },
      tcp: { type: 'string' },
      http: { type: 'string' },
      forwarding: { type: 'boolean' },
      'log-level': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unknown command "${positionals[0]}"`);

  const overrides: ConfigOverrides = {
    listen: { host: values.host, tcp: parsePort('tcp', values.tcp), http: parsePort('http', values.http) },
    log: { level: parseLogLevel(values['log-level']) },
  };
  if (values.forwarding) overrides.jstp = { forwarding: { enabled: true } };

  let config: Config;
  try {
    config = values.config === undefined ? applyOverrides(defaultConfig(), overrides) : await loadConfig(values.config, overrides);
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`pasarela: ${error.message}`);
      return EXIT_USAGE;
    }
    throw error;
  }

  const logger = createLogger(config.log.level, 1);
  let starting: Promise<Gateway> | undefined;
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(EXIT_FAILURE);
    }
    closing = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: CLOSE_DEADLINE_MS }, 'closing took too long: exiting anyway');
      process.exit(EXIT_FAILURE);
    }, CLOSE_DEADLINE_MS);
    // A start that failed is reported (and exits 1) where it is awaited below.
    void (starting ?? Promise.reject(new Error('not started')))
      .then((gateway) => gateway.close(), () => undefined)
      .then(
        async () => {
          clearTimeout(deadline);
          logger.info('closed');
          await flushed();
          process.exit(EXIT_OK);
        },
        (error: unknown) => {
          clearTimeout(deadline);
          logger.error({ err: error }, 'closing failed');
          process.exit(EXIT_FAILURE);
        },
      );
  };
  // Installed before anything listens: a signal during startup, or right after the
  // `ready` line, still closes cleanly instead of killing the process.
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  let gateway: Gateway;
  try {
    const demo = values.demo === true;
    const drivers = [...mqttStarters(config, { demo }), ...bleStarters(config, { demo }), ...serialStarters(config, { demo })];
    starting = startGateway(config, { logger, drivers });
    gateway = await starting;
  } catch (error) {
    logger.fatal({ err: error }, 'gateway failed to start');
    err(`pasarela: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
  if (closing) return undefined; // a signal came while starting: shutdown() exits
  logger.info({ host: config.listen.host, tcp: gateway.ports.tcp, http: gateway.ports.http, version: packageVersion() }, 'ready');
  // Keeps running until a signal: the gateway's servers hold the event loop open.
  return undefined;
}

// ---- pasarela call METHOD path ----------------------------------------------------------

async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { body: { type: 'string' }, url: { type: 'string' }, emit: { type: 'boolean' } },
  });
  const [methodArg, pathArg, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (methodArg === undefined) throw new UsageError('missing METHOD');
  const method = methodArg.toUpperCase();
  if (!(REGULAR_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`METHOD: expected one of ${REGULAR_METHODS.join(', ')}, got "${methodArg}"`);
  }
  const resource = parsePath('PATH', pathArg);
  const body = parseBody(values.body);
  const url = values.url ?? DEFAULT_URL;

  const client = openClient(url);
  try {
    try {
      await client.ready();
    } catch (error) {
      err(`pasarela call: ${connectFailure(url, error)}`);
      return EXIT_FAILURE;
    }
    if (values.emit) {
      // Fire and forget (how devices report changes); close() flushes it to the socket.
      client.emit(method as RegularMethod, resource, body);
      return EXIT_OK;
    }
    const answers = await client.request(method as RegularMethod, resource, body).all();
    for (const answer of answers) {
      const text = statusText[answer.status] ?? '';
      const json = answer.body === undefined ? '' : ` ${JSON.stringify(answer.body)}`;
      out(`${answer.status} ${text}${json}`);
    }
    if (answers.length === 0) err('pasarela call: no answers');
    return answers.some((answer) => answer.status >= 200 && answer.status < 300) ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await client.close();
  }
}

// ---- pasarela watch METHOD pattern ------------------------------------------------------

async function watch(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' } },
  });
  const [methodArg, patternArg, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (methodArg === undefined) throw new UsageError('missing METHOD');
  const method = methodArg.toUpperCase();
  const watchable = ['*', ...REGULAR_METHODS, 'BIND', 'RELEASE'];
  if (!watchable.includes(method)) {
    throw new UsageError(`METHOD: expected one of ${watchable.join(', ')}, got "${methodArg}"`);
  }
  const pattern = parsePath('PATTERN', patternArg);
  const url = values.url ?? DEFAULT_URL;

  const client = openClient(url);
  try {
    await client.ready();
  } catch (error) {
    await client.close();
    err(`pasarela watch: ${connectFailure(url, error)}`);
    return EXIT_FAILURE;
  }

  try {
    client.bind({ method: method as EndpointInput['method'], resource: pattern }, (incoming) => {
      const json = incoming.body === undefined ? '' : ` ${JSON.stringify(incoming.body)}`;
      out(`${incoming.method} ${incoming.resource.join('/')}${json}`);
      // A request that reaches a watcher gets 100 Acknowledge: the watcher observes and
      // never serves it, but silence would cost the caller a 504 after the timeout.
      // 100 is not a final answer (the trigger stays open for one), so 101 closes it.
      if (incoming.expectsAnswer) {
        incoming.answer(Status.Acknowledge, undefined);
        incoming.answer(Status.NoMoreAnswers, undefined);
      }
      return undefined;
    });
  } catch (error) {
    await client.close();
    throw new UsageError(`PATTERN: ${error instanceof Error ? error.message : String(error)}`);
  }
  err(`watching ${method} ${pattern.join('/')} on ${url} (Ctrl-C to stop)`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      stopping = true;
      void client.close().then(() => resolve(EXIT_OK));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    client.on('state', (change) => {
      if (change.state !== 'closed' || stopping) return;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (change.error) err(`pasarela watch: connection to ${url} lost (${change.error.message})`);
      // The gateway went away (a close we asked for resolves through stop()).
      resolve(EXIT_FAILURE);
    });
  });
}

// ---- main ---------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number | undefined> {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help' || first === 'help') {
    out(USAGE.trimEnd());
    return EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    out(packageVersion());
    return EXIT_OK;
  }
  if (first === 'call') return call(rest);
  if (first === 'watch') return watch(rest);
  return serve(argv);
}

async function run(): Promise<void> {
  let code: number | undefined;
  try {
    code = await main(process.argv.slice(2));
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw error;
    err(`pasarela: ${(error as Error).message}`);
    err(`Try "pasarela --help".`);
    code = EXIT_USAGE;
  }
  if (code === undefined) return; // a running gateway: it exits on a signal
  await flushed();
  process.exit(code);
}

await run();

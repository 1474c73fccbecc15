/**
 * `pasarela [options]`: runs a gateway until SIGINT/SIGTERM. The drivers start as
 * plugins when the config asks for them; with `--demo`, the demo's plugins (loaded
 * only then, from demo/) run the simulated devices instead. The config's `drivers:`
 * are loaded from its folder either way. An exception or a rejection nobody handled
 * is given to the driver whose code raised it (the gateway keeps running); anything
 * else ends the process, logged.
 */
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { applyOverrides, ConfigError, defaultConfig, loadConfig, LOG_LEVELS, type Config, type ConfigOverrides, type LogLevel } from '../config.js';
import { claimDriverFault, type FaultKind } from '../driver-host/fault-scope.js';
import { externalDriverPlugins } from '../driver-host/external-drivers.js';
import { packageVersion, startGateway, type Gateway, type GatewayPlugin } from '../gateway.js';
import { ErrorCode, PasarelaError } from '../jstp/errors.js';
import { blePlugins } from '../plugins/ble-plugin.js';
import { homeAssistantPlugins } from '../plugins/homeassistant-plugin.js';
import { mqttPlugins } from '../plugins/mqtt-plugin.js';
import { serialPlugins } from '../plugins/serial-plugin.js';
import { securityPlugins } from '../security/plugin.js';
import { dedupPlugin } from '../uplinks/dedup.js';
import { uplinkPlugins } from '../uplinks/uplink-plugin.js';
import { clusterPlugins } from '../cluster/cluster-plugin.js';
import { saturationPlugins } from '../saturation/saturation-plugin.js';
import { createLogger, err, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, flushed, UsageError } from './common.js';
import type { Logger } from '../jstp/logger.js';

/** How long SIGINT/SIGTERM wait for a clean close before exiting anyway. */
const CLOSE_DEADLINE_MS = 2_000;

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

/**
 * The plugins the config asks for (or the demo's), then the drivers it loads from
 * outside; a driver from outside named like a built-in one (`ble`) runs instead of it.
 * Every gateway drops resent uplink dispatches (dedup).
 */
async function pluginsFor(config: Config, demo: boolean, logger: Logger, configDir: string | undefined): Promise<GatewayPlugin[]> {
  // What every engine runs, demo or not, in the order of their stages (after the
  // limits, which the gateway installs first): security (nothing unverified goes
  // further, and a forged uplink id cannot reach dedup), dedup (a resend goes no
  // further), then the saturation meter and the cluster's drain.
  const engine = [...securityPlugins(config), dedupPlugin(), ...saturationPlugins(config), ...clusterPlugins(config)];
  // The fleet's code (and NATS) is loaded only for a config that has a fleet.
  const fleet = config.fleet ? (await import('../fleet/plugin.js')).fleetPlugins(config) : [];
  const uplinks = uplinkPlugins(config, {
    // `nats:` uplinks publish on the fleet's connection.
    ...(fleet[0] ? { dialers: { nats: fleet[0].uplinkDialer } } : {}),
    // A store that cannot write is fatal: exit, and let the supervisor restart a gateway that re-reads it.
    onFatal: (error) => {
      logger.fatal({ err: error }, 'uplink store failed: exiting');
      err(`pasarela: ${error.message}; exiting`);
      process.exit(EXIT_FAILURE);
    },
  });
  const external = await externalDriverPlugins(config, configDir ?? process.cwd());
  const replaced = new Set(external.map((plugin) => plugin.name));
  const builtIn = demo ? (await import('../../demo/plugins.js')).demoPlugins() : [...mqttPlugins(config), ...blePlugins(config), ...serialPlugins(config)];
  // Home Assistant last: it starts after the drivers and stops before them, so a
  // gateway that stops leaves its entities in Home Assistant (unavailable), not removed.
  return [...engine, ...fleet, ...builtIn.filter((plugin) => !replaced.has(plugin.name)), ...external, ...uplinks, ...homeAssistantPlugins(config)];
}

/** A config error, the gateway's own or one a driver found in its section or its profiles: exit 2. */
function isConfigProblem(error: unknown): boolean {
  return error instanceof ConfigError || (error instanceof PasarelaError && (error.code === ErrorCode.Config || error.code === ErrorCode.Profile));
}

export async function serve(argv: string[]): Promise<number | undefined> {
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
  // A driver's failure is its own (the driver host isolates it); any other ends the process, as Node would.
  const onFault = (error: unknown, kind: FaultKind): void => {
    if (claimDriverFault(error, kind)) return;
    logger.fatal({ err: error }, `${kind}: exiting`);
    err(`pasarela: ${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_FAILURE);
  };
  process.on('uncaughtException', (error) => onFault(error, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => onFault(reason, 'unhandled rejection'));
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
    const configDir = values.config === undefined ? undefined : dirname(resolve(values.config));
    const plugins = await pluginsFor(config, values.demo === true, logger, configDir);
    starting = startGateway(config, { logger, plugins, ...(configDir === undefined ? {} : { configDir }) });
    gateway = await starting;
  } catch (error) {
    logger.fatal({ err: error }, 'gateway failed to start');
    err(`pasarela: ${error instanceof Error ? error.message : String(error)}`);
    return isConfigProblem(error) ? EXIT_USAGE : EXIT_FAILURE;
  }
  if (closing) return undefined; // a signal came while starting: shutdown() exits
  logger.info({ host: config.listen.host, tcp: gateway.ports.tcp, http: gateway.ports.http, version: packageVersion() }, 'ready');
  // Keeps running until a signal: the gateway's servers hold the event loop open.
  return undefined;
}

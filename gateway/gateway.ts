/**
 * Composes a running gateway from a config: the engine, the forwarding pool, the
 * TCP transport, the HTTP (dashboard) + WebSocket transport, the gateway's own
 * resources and the drivers it is given. Everything it starts, `close()` stops.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, DeviceConfig } from './config.js';
import { ForwardingPool } from './forwarding.js';
import { createStaticHandler } from './http-static.js';
import { cborCodec as cbor } from './jstp/codec/cbor.js';
import { Engine } from './jstp/engine.js';
import { silentLogger, type Logger } from './jstp/logger.js';
import { TcpTransport } from './transports/tcp.js';
import type { Transport } from './transports/transport.js';
import { WsTransport } from './transports/ws.js';

/** What a driver starter gets from the gateway. */
export interface StarterContext {
  readonly engine: Engine;
  readonly logger: Logger;
  readonly config: Config;
  /** The configured devices of this driver (those whose `driver` is its name). */
  readonly devices: readonly DeviceConfig[];
}

/** A driver that started; the gateway stops it on close. */
export interface RunningDriver {
  readonly name: string;
  stop(): Promise<void>;
}

/**
 * The seam for drivers (BLE, serial, MQTT: a later issue). A starter will wrap one
 * `Driver` (drivers/driver.ts) with the device registry that turns its calls into
 * dispatches. Each starter is called once, in order, after the transports listen;
 * one that throws fails the start (and what started is closed).
 */
export interface DriverStarter {
  readonly name: string;
  start(context: StarterContext): Promise<RunningDriver>;
}

export interface GatewayOptions {
  logger?: Logger;
  /** Drivers to start; none yet. */
  drivers?: readonly DriverStarter[];
}

export interface GatewayPorts {
  readonly tcp: number;
  readonly http: number;
}

export interface Gateway {
  readonly engine: Engine;
  /** The bound ports (the real ones when 0 was configured). */
  readonly ports: GatewayPorts;
  /** Stops drivers, transports, forwarding and the engine; idempotent, never rejects. */
  close(): Promise<void>;
}

/** How long a transport lets peers flush on close: well under the CLI's 2 s deadline. */
const TRANSPORT_CLOSE_MS = 1_000;

let cachedVersion: string | undefined;

/** The `version` of Pasarela's package.json, found from here in the source tree and in dist/. */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pasarela' && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        return cachedVersion;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return (cachedVersion = '0.0.0');
    dir = parent;
  }
}

export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? silentLogger();
  const startedAt = Date.now();
  const drivers: RunningDriver[] = [];
  const transports: Transport[] = [];

  const engine = new Engine({
    mode: config.jstp.mode,
    answerTimeoutMs: config.jstp.answerTimeoutMs,
    logger: logger.child({ component: 'jstp' }),
  });
  // Given the engine, the pool installs itself as its forwarder; without one the
  // engine answers 506 to any dispatch with a `host`.
  const pool = config.jstp.forwarding.enabled
    ? new ForwardingPool({ engine, ...config.jstp.forwarding, cbor, logger: logger.child({ component: 'forwarding' }) }).install()
    : undefined;

  engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({
    name: 'pasarela',
    version: packageVersion(),
    drivers: drivers.map((driver) => driver.name),
    // Seconds, like process.uptime().
    uptime: Math.round((Date.now() - startedAt) / 10) / 100,
  }));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Drivers first, so they stop producing dispatches while the transports still run.
      for (const driver of [...drivers].reverse()) {
        try {
          await driver.stop();
        } catch (error) {
          logger.error({ err: error, driver: driver.name }, 'driver failed to stop');
        }
      }
      await Promise.all(transports.map((transport) => transport.close()));
      if (pool) {
        try {
          await pool.close();
        } catch (error) {
          logger.error({ err: error }, 'forwarding pool failed to close');
        }
      }
      engine.close();
      logger.debug('gateway closed');
    })();
    return closing;
  };

  try {
    const tcp = new TcpTransport({
      engine,
      host: config.listen.host,
      port: config.listen.tcp,
      cbor,
      closeTimeoutMs: TRANSPORT_CLOSE_MS,
      logger: logger.child({ component: 'tcp' }),
    });
    transports.push(tcp);
    const tcpAddress = await tcp.listen();

    // One port: the dashboard over plain HTTP, JSTP over WebSocket upgrades on any path.
    const ws = new WsTransport({
      engine,
      onRequest: createStaticHandler({ logger: logger.child({ component: 'http' }) }),
      host: config.listen.host,
      port: config.listen.http,
      cbor,
      closeTimeoutMs: TRANSPORT_CLOSE_MS,
      logger: logger.child({ component: 'ws' }),
    });
    transports.push(ws);
    const httpAddress = await ws.listen();

    for (const starter of options.drivers ?? []) {
      const devices = config.devices.filter((device) => device.driver === starter.name);
      const driverLogger = logger.child({ driver: starter.name });
      drivers.push(await starter.start({ engine, logger: driverLogger, config, devices }));
    }

    return { engine, ports: { tcp: tcpAddress.port, http: httpAddress.port }, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Composes a running gateway from a config: the engine, the forwarding pool, the
 * device registry and its resources, the TCP transport, the HTTP (dashboard) +
 * WebSocket transport, and the plugins it is given (drivers among them). Everything
 * it starts, `close()` stops.
 */
import type { Config } from './config.js';
import { DeviceRegistry } from './devices/registry.js';
import { bindDeviceResources } from './devices/resources.js';
import { DriverHost } from './driver-host/driver-host.js';
import { ForwardingPool } from './forwarding.js';
import { HttpRouter } from './http-routes.js';
import { createStaticHandler } from './http-static.js';
import { cborCodec as cbor } from './jstp/codec/cbor-link.js';
import { Engine } from './jstp/engine.js';
import { errors } from './jstp/errors.js';
import { silentLogger, type Logger } from './jstp/logger.js';
import { installLimits } from './limits/index.js';
import type { GatewayPlugin, GatewayPorts, PluginContext, PluginStop } from './plugin.js';
import { packageVersion } from './package-version.js';
import { loadProfileFiles } from './profiles/profile-files.js';
import { loadServerTls } from './security/tls.js';
import { TcpTransport } from './transports/tcp.js';
import { WsTransport } from './transports/ws.js';

export type { GatewayPlugin, GatewayPorts, PluginContext, PluginStop } from './plugin.js';
export { packageVersion } from './package-version.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Started in order before the transports listen; stopped in reverse order on close. */
  plugins?: readonly GatewayPlugin[];
  /** The folder of the config file (plugins resolve relative paths against it). */
  configDir?: string;
}

export interface Gateway {
  readonly engine: Engine;
  /** The one device registry: every driver's devices. */
  readonly registry: DeviceRegistry;
  /** The drivers, under supervision. */
  readonly drivers: DriverHost;
  /** The bound ports (the real ones when 0 was configured). */
  readonly ports: GatewayPorts;
  /** Stops plugins, transports, forwarding and the engine; idempotent, never rejects. */
  close(): Promise<void>;
}

/** How long a transport lets peers flush on close: well under the CLI's 2 s deadline. */
const TRANSPORT_CLOSE_MS = 1_000;

interface StartedPlugin {
  readonly name: string;
  readonly stop: PluginStop | undefined;
}

export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? silentLogger();
  const plugins = options.plugins ?? [];
  const names = new Set<string>();
  for (const plugin of plugins) {
    if (names.has(plugin.name)) throw errors.config(`two plugins are named "${plugin.name}"`);
    names.add(plugin.name);
  }
  const startedAt = Date.now();
  const started: StartedPlugin[] = [];
  // Read before anything starts: a bad profile file is a config error, like a bad config.
  const profileFiles = config.profiles.length === 0 ? [] : await loadProfileFiles(config.profiles, options.configDir ?? process.cwd());

  const engine = new Engine({
    mode: config.jstp.mode,
    answerTimeoutMs: config.jstp.answerTimeoutMs,
    logger: logger.child({ component: 'jstp' }),
  });
  // Without a pool the engine answers 506 to any dispatch with a `host`.
  const forwarding = config.jstp.forwarding.enabled
    ? new ForwardingPool({ engine, ...config.jstp.forwarding, cbor, logger: logger.child({ component: 'forwarding' }) }).install()
    : undefined;

  // Filled in once the transports listen: hops naming these are this gateway.
  const ownPorts = { tcp: undefined as number | undefined, http: undefined as number | undefined };
  const limits = installLimits({ engine, limits: config.limits, listenHost: config.listen.host, ports: () => ownPorts, logger: logger.child({ component: 'limits' }) });

  const devicesLogger = logger.child({ component: 'devices' });
  const registry = new DeviceRegistry({ engine, logger: devicesLogger, devices: config.devices });
  bindDeviceResources(engine, registry, devicesLogger);
  const drivers = new DriverHost({ registry, logger: logger.child({ component: 'drivers' }), profileFiles });
  drivers.bind(engine);

  engine.bind({ method: 'GET', resource: ['gateway'] }, () => ({
    name: 'pasarela',
    version: packageVersion(),
    // What this gateway writes into the `via` trace of what it delivers.
    id: engine.id,
    drivers: registry.drivers(),
    // Seconds, like process.uptime().
    uptime: Math.round((Date.now() - startedAt) / 10) / 100,
  }));

  // listen.tls: TLS on the TCP port, HTTPS and wss on the HTTP port.
  const tls = config.listen.tls ? { tls: loadServerTls(config.listen.tls, options.configDir) } : {};
  const httpLogger = logger.child({ component: 'http' });
  const router = new HttpRouter(httpLogger);
  const serveStatic = createStaticHandler({ logger: httpLogger });
  const tcp = new TcpTransport({
    engine,
    host: config.listen.host,
    port: config.listen.tcp,
    cbor,
    ...limits.transports,
    maxLineBytes: config.limits.maxDispatchBytes,
    idleProbeMs: config.limits.idleProbeMs,
    closeTimeoutMs: TRANSPORT_CLOSE_MS,
    logger: logger.child({ component: 'tcp' }),
    ...tls,
  });
  // One port: plugins' routes and the dashboard over plain HTTP, JSTP over WebSocket upgrades on any path.
  const ws = new WsTransport({
    engine,
    ...limits.transports,
    maxPayload: config.limits.maxDispatchBytes,
    onRequest: (request, response) => {
      if (!router.handle(request, response)) serveStatic(request, response);
    },
    host: config.listen.host,
    port: config.listen.http,
    cbor,
    closeTimeoutMs: TRANSPORT_CLOSE_MS,
    logger: logger.child({ component: 'ws' }),
    ...tls,
  });
  limits.guardHttp(ws.server);

  let markReady: (ports: GatewayPorts) => void = () => undefined;
  const ready = new Promise<GatewayPorts>((resolve) => {
    markReady = resolve;
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Plugins first, so drivers stop producing dispatches while the transports still run.
      for (const plugin of started.splice(0).reverse()) {
        try {
          await plugin.stop?.();
        } catch (error) {
          logger.error({ err: error, plugin: plugin.name }, 'plugin failed to stop');
        }
      }
      await Promise.all([tcp.close(), ws.close()]);
      if (forwarding) {
        try {
          await forwarding.close();
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
    for (const plugin of plugins) {
      const context: PluginContext = {
        engine,
        registry,
        drivers,
        transports: { tcp, ws },
        forwarding,
        logger: logger.child({ plugin: plugin.name }),
        config,
        configDir: options.configDir,
        http: router,
        ready,
      };
      try {
        started.push({ name: plugin.name, stop: (await plugin.start(context)) ?? undefined });
      } catch (error) {
        logger.error({ err: error, plugin: plugin.name }, 'plugin failed to start');
        throw error;
      }
    }
    for (const file of drivers.unusedProfileFiles()) {
      logger.warn({ file: file.file, driver: file.driver }, `profile file ${file.file} is for driver "${file.driver}", which is not running`);
    }
    for (const device of drivers.devicesWithoutDriver(config.devices)) {
      logger.warn({ device: device.id, driver: device.driver }, `device "${device.id}" names driver "${device.driver}", which is not running`);
    }
    const tcpAddress = await tcp.listen();
    const httpAddress = await ws.listen();
    const ports: GatewayPorts = { tcp: tcpAddress.port, http: httpAddress.port };
    Object.assign(ownPorts, ports);
    markReady(ports);
    return { engine, registry, drivers, ports, close };
  } catch (error) {
    await close();
    throw error;
  }
}

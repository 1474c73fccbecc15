/**
 * The gateway's plugin interface: types and contracts only. Whatever is not the
 * protocol itself (drivers, and later security, uplinks, saturation reports, the
 * fleet) is a plugin handed to `startGateway(config, { plugins })`.
 */
import type http from 'node:http';
import type { Config } from './config.js';
import type { DeviceRegistry } from './devices/registry.js';
import type { DriverHost } from './driver-host/driver-host.js';
import type { ForwardingPool } from './forwarding.js';
import type { Engine } from './jstp/engine.js';
import type { Logger } from './jstp/logger.js';
import type { TcpTransport } from './transports/tcp.js';
import type { WsTransport } from './transports/ws.js';

/** The bound ports (the real ones when 0 was configured). */
export interface GatewayPorts {
  readonly tcp: number;
  readonly http: number;
}

/** Serves one HTTP request; a throw or a rejection is logged and answered 500. */
export type HttpHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void | Promise<void>;

/** Extra HTTP routes on the dashboard's port. */
export interface HttpRoutes {
  /**
   * Serves every request whose path (without the query) is exactly `path`, before the
   * dashboard's files. Throws if another plugin has the path. Returns the function
   * that removes the route.
   */
  route(path: string, handler: HttpHandler): () => void;
}

/** What a plugin gets from the gateway. Everything in it is shared: a plugin owns none of it. */
export interface PluginContext {
  readonly engine: Engine;
  /** The one device registry (its resources are bound by the gateway). */
  readonly registry: DeviceRegistry;
  /** Runs drivers under supervision on the registry (`driverPlugin` uses it); lists them for `GET ["drivers"]`. */
  readonly drivers: DriverHost;
  /** Built, not yet listening while plugins start. */
  readonly transports: { readonly tcp: TcpTransport; readonly ws: WsTransport };
  /** Installed as the engine's forwarder; undefined when forwarding is off. */
  readonly forwarding: ForwardingPool | undefined;
  /** A child of the gateway's logger with `{ plugin: name }`. */
  readonly logger: Logger;
  readonly config: Config;
  /** The folder of the config file, to resolve relative paths against; undefined without a file. */
  readonly configDir: string | undefined;
  readonly http: HttpRoutes;
  /**
   * Resolves with the bound ports once the transports listen, which is after every
   * plugin started: never await it inside `start`. Stays pending if the start fails
   * (the plugin's stop function runs instead).
   */
  readonly ready: Promise<GatewayPorts>;
}

/** Undoes what `start` did; may be async. The gateway calls it once, on close. */
export type PluginStop = () => Promise<void> | void;

/**
 * A plugin. Plugins start one after another, in the order given, before the
 * transports accept connections (so a stage a plugin adds sees the first dispatch);
 * a `start` that throws fails the gateway's start, and what already started is
 * stopped in reverse order. On close, stop functions run in reverse order; one that
 * fails is logged with the plugin's name and the others still run.
 */
export interface GatewayPlugin {
  /** Names the plugin in logs; unique within a gateway. */
  readonly name: string;
  start(context: PluginContext): Promise<PluginStop | void>;
}

/**
 * The gateway's defences against peers that send too much, too slowly, too deep or in
 * circles, put together from the `limits:` config section: the inbound stages
 * (dispatch limits first, then own hops), the connection gate and the input budget the
 * transports share, the monitor that counts and logs every limit hit, and the
 * resource `GET ["gateway", "limits"]` that shows them.
 */
import type http from 'node:http';
import type { Engine } from '../jstp/engine.js';
import type { Logger } from '../jstp/logger.js';
import { ConnectionGate } from '../transports/connection-gate.js';
import { InputBudget } from '../transports/pending-input.js';
import { dispatchLimits } from './dispatch-limits.js';
import { connectionsThatFit, fileDescriptors, RESERVED_DESCRIPTORS } from './fd-budget.js';
import { LimitMonitor } from './monitor.js';
import { ownHops, type OwnPorts } from './own-hops.js';
import type { Limits } from './schema.js';

export interface LimitsOptions {
  engine: Engine;
  limits: Limits;
  /** The host the gateway listens on, to know its own addresses. */
  listenHost: string;
  /** The bound ports, once known. */
  ports: () => OwnPorts;
  logger: Logger;
}

/** What the transports take (their option names). */
export interface TransportLimits {
  gate: ConnectionGate;
  inputBudget: InputBudget;
  report: LimitMonitor;
  lineTimeoutMs: number;
  maxBufferedBytes: number;
  keepAliveMs: number;
}

export interface GatewayLimits {
  readonly monitor: LimitMonitor;
  /** The connection limit in force: the configured one, or lower to fit the file descriptors. */
  readonly maxConnections: number;
  readonly transports: TransportLimits;
  /** Bounds the HTTP port's own sockets (dashboard requests, upgrades) and reports what it drops. */
  guardHttp(server: http.Server): void;
  /** The body of `GET ["gateway", "limits"]`. */
  stats(): Record<string, unknown>;
}

export function installLimits(options: LimitsOptions): GatewayLimits {
  const { engine, limits, logger } = options;
  const monitor = new LimitMonitor({ logger });
  const descriptors = fileDescriptors();
  const maxConnections = connectionsThatFit(limits.maxConnections, descriptors);
  if (maxConnections < limits.maxConnections) {
    logger.warn(
      { configured: limits.maxConnections, maxConnections, fileDescriptors: descriptors },
      'connection limit lowered to fit the file descriptor limit',
    );
  }
  const gate = new ConnectionGate({
    maxConnections,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
    report: monitor,
  });
  const inputBudget = new InputBudget(limits.maxPendingInputBytes);

  // The limits first: no other stage should spend anything on a dispatch over them.
  engine.use(dispatchLimits({ limits, engine, report: monitor }));
  engine.use(ownHops(options.listenHost, options.ports));

  const stats = (): Record<string, unknown> => ({
    limits: { ...limits, maxConnections },
    exceeded: monitor.stats(),
    connections: { open: gate.open, refused: gate.refused },
    pendingInputBytes: inputBudget.bytes,
    loopsDropped: engine.stats().looped,
    subscriptions: engine.stats().subscriptions,
    ...(descriptors ? { fileDescriptors: fileDescriptors() } : {}),
  });
  engine.bind({ method: 'GET', resource: ['gateway', 'limits'] }, () => stats());

  return {
    monitor,
    maxConnections,
    transports: {
      gate,
      inputBudget,
      report: monitor,
      lineTimeoutMs: limits.lineTimeoutMs,
      maxBufferedBytes: limits.maxBufferedOutputBytes,
      keepAliveMs: limits.keepAliveMs,
    },
    guardHttp(server) {
      server.maxConnections = maxConnections + RESERVED_DESCRIPTORS;
      server.on('drop', (data?: { remoteAddress?: string }) => monitor.exceeded('maxConnections', data?.remoteAddress ?? '*', { port: 'http' }));
    },
    stats,
  };
}

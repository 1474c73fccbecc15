/**
 * What the server-side transports (TCP, WebSocket) have in common: binding a node
 * server, the table of accepted connections behind `stats()` and `connections()`,
 * and a `close()` that runs the transport's shutdown once.
 */
import type net from 'node:net';
import { errors } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import { emptyStats, type Connection } from './connection.js';
import type { LimitReporter } from './limit-reporter.js';
import type { Transport, TransportAddress, TransportStats } from './transport.js';

/** A transport's accepted peers, keyed by their socket `S` (a net.Socket, a WebSocket). */
export abstract class ServerTransport<S> implements Transport {
  abstract readonly label: string;
  protected readonly logger: Logger;
  /** Shared with every accepted connection, which updates it. */
  protected readonly counters = emptyStats();
  protected readonly sockets = new Map<S, Connection>();
  protected bound: TransportAddress | undefined;
  protected closing: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  abstract listen(): Promise<TransportAddress>;

  address(): TransportAddress | undefined {
    return this.bound;
  }

  stats(): TransportStats {
    return { ...this.counters, connections: this.sockets.size };
  }

  /** The open connections (for diagnostics and the dashboard). */
  connections(): Connection[] {
    return [...this.sockets.values()];
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Stops accepting and closes every connection; runs once. */
  protected abstract shutdown(): Promise<void>;

  /**
   * A listening server's error. Out of file descriptors (EMFILE, ENFILE) is a limit:
   * reported (counted, logged at most once a minute) while the connections already
   * open go on being served.
   */
  protected serverError(error: Error, report: LimitReporter | undefined): void {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'EMFILE' || code === 'ENFILE') && report) report.exceeded('fileDescriptors', '*', { code, transport: this.label });
    else this.logger.error({ err: error }, `${this.label} server error`);
  }

  /**
   * Binds `server` and resolves with the bound address, rejecting with the bind error
   * (a taken port: PASARELA_ADDRESS_IN_USE). `onServerError` then handles the server's
   * later errors.
   */
  protected listenOn(server: net.Server, host: string, port: number, onServerError?: (error: Error) => void): Promise<TransportAddress> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        reject(inUse ? errors.addressInUse(`${this.label} ${host}:${port} is in use (EADDRINUSE)`, { cause: error }) : error);
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        if (onServerError) server.on('error', onServerError);
        const address = server.address() as net.AddressInfo;
        this.bound = { label: this.label, host, port: address.port };
        this.logger.info({ host, port: address.port }, `${this.label} transport listening`);
        resolve(this.bound);
      });
    });
  }
}

/** Test helpers for transports: raw peers, captured logs, waiting with a deadline. */
import net from 'node:net';
import { pino, type Logger } from 'pino';
import { LineDecoder } from '../../gateway/jstp/codec/json.js';

export interface LogRecord {
  level: number;
  msg: string;
  code?: string;
  reason?: string;
  [key: string]: unknown;
}

/** A pino logger whose records land in an array. */
export function memoryLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line) as LogRecord) });
  return { logger, records };
}

/** Polls `predicate` until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A raw TCP peer speaking JSON lines by hand, recording every dispatch it receives. */
export class RawTcpPeer {
  readonly received: Record<string, unknown>[] = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    const decoder = new LineDecoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (line) => this.received.push(JSON.parse(line) as Record<string, unknown>)));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawTcpPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawTcpPeer(socket));
      });
    });
  }

  send(dispatch: unknown): void {
    this.socket.write(JSON.stringify(dispatch) + '\n');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  end(): void {
    this.socket.end();
  }
}

export function dispatch(method: string, resource: (string | number)[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { protocol: ['JSTP', '0.5'], method, resource, timestamp: Date.now(), token: [], ...extra };
}

export function bind(method: string, resource: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method, resource }, timestamp: Date.now(), token: [], ...extra };
}

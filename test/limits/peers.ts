/**
 * Raw peers for the attack tests: a TCP socket that speaks JSON lines or a CBOR
 * sequence by hand, records what it receives and when it is closed, and waits for
 * the answers to what it asked.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import { CborSequenceDecoder } from '../../gateway/jstp/codec/cbor-sequence.js';
import { LineDecoder } from '../../gateway/jstp/codec/json.js';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';
import { waitFor } from '../transports/helpers.js';

export type Wire = 'json' | 'cbor';

export class Peer {
  readonly received: Record<string, unknown>[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket, readonly wire: Wire) {
    const lines = new LineDecoder({ maxLineBytes: 64 * 1024 * 1024 });
    const items = new CborSequenceDecoder({ limits: { maxBytes: 16 * 1024 * 1024, maxStringBytes: 16 * 1024 * 1024 } });
    socket.on('data', (chunk: Buffer) => {
      if (wire === 'json') lines.push(chunk, (line) => this.received.push(JSON.parse(line) as Record<string, unknown>));
      else for (const item of items.push(chunk)) if (item.ok) this.received.push(item.value as Record<string, unknown>);
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static connect(port: number, options: { wire?: Wire; localAddress?: string } = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new Peer(socket, options.wire ?? 'json'));
      });
    });
  }

  send(dispatch: Record<string, unknown>): void {
    if (this.wire === 'json') this.socket.write(`${JSON.stringify(dispatch)}\n`);
    else this.socket.write(encodeDispatch(dispatch as unknown as Dispatch));
  }

  /** Sends with a fresh transaction id and resolves with the first ANSWER to it. */
  async ask(dispatch: Record<string, unknown>, timeoutMs = 5_000): Promise<{ status: number; body: unknown }> {
    const id = randomUUID();
    this.send({ ...dispatch, token: [id] });
    const isAnswer = (item: Record<string, unknown>): boolean => item.method === 'ANSWER' && (item.resource as unknown[])[1] === id;
    await waitFor(() => this.received.some(isAnswer) || this.closed, `the answer to ${String(dispatch.method)}`, timeoutMs);
    const answer = this.received.find(isAnswer);
    if (!answer) throw new Error('closed before it answered');
    return { status: (answer.resource as number[])[0]!, body: answer.body };
  }

  /** Waits until the gateway closes this socket. */
  async closedByGateway(timeoutMs = 5_000): Promise<void> {
    await waitFor(() => this.closed, 'the gateway to close the connection', timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function dispatch(method: string, resource: (string | number)[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { protocol: ['JSTP', '0.5'], method, resource, timestamp: Date.now(), token: [], ...extra };
}

export function bind(method: string, resource: (string | number)[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { protocol: ['JSTP', '0.5'], method: 'BIND', endpoint: { method, resource }, timestamp: Date.now(), token: [], ...extra };
}

/** A value `levels` containers deep: arrays and objects in turn, around a number. */
export function nested(levels: number): unknown {
  let value: unknown = levels;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { deeper: value };
  return value;
}

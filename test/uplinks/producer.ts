/**
 * A telemetry producer for the tests that run the real `pasarela`: a raw TCP peer that
 * sends numbered PATCHes with a transaction, a few in flight at a time, and records
 * which ones the gateway answered as accepted (the uplink's 200 `{ uplink, id }`).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';

export interface Producer {
  /** Numbers the gateway answered as accepted, in the order produced. */
  readonly accepted: number[];
  /** Answers other than an acceptance, by status. */
  readonly refused: Map<number, number>;
  /** Numbers sent so far. */
  readonly sent: number;
  /** Stops sending; resolves once the socket is closed. */
  stop(): Promise<void>;
}

export interface ProducerOptions {
  readonly port: number;
  /** The first number to send; each dispatch carries the next. */
  readonly from: number;
  /** Dispatches in flight at most. */
  readonly window?: number;
  /** How many to send at most. */
  readonly count?: number;
  /** Pause between dispatches, ms (0: as fast as the window allows). */
  readonly intervalMs?: number;
}

function patch(n: number, transactionId: string): string {
  return JSON.stringify({
    protocol: ['JSTP', '0.5'],
    method: 'PATCH',
    resource: ['devices', 'sensor', 'properties', 'temperature'],
    timestamp: Date.now(),
    token: [transactionId],
    body: n,
  });
}

export function produce(options: ProducerOptions): Producer {
  const window = options.window ?? 16;
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  const accepted: number[] = [];
  const refused = new Map<number, number>();
  const waiting = new Map<string, number>();
  const socket = net.connect(options.port, '127.0.0.1');
  let next = options.from;
  let stopped = false;
  let rest = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);

  const send = (): void => {
    timer = undefined;
    while (!stopped && waiting.size < window && next < options.from + limit && socket.writable) {
      const transactionId = randomUUID();
      waiting.set(transactionId, next);
      socket.write(`${patch(next, transactionId)}\n`);
      next++;
      if (options.intervalMs) {
        timer = setTimeout(send, options.intervalMs);
        return;
      }
    }
  };
  socket.once('connect', send);
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      const answer = JSON.parse(line) as { method?: string; resource?: [number, string]; body?: { uplink?: string } };
      if (answer.method !== 'ANSWER' || !answer.resource) continue;
      const [status, transactionId] = answer.resource;
      const n = waiting.get(transactionId);
      if (n === undefined) continue;
      waiting.delete(transactionId);
      if (status === 200 && answer.body?.uplink !== undefined) accepted.push(n);
      else refused.set(status, (refused.get(status) ?? 0) + 1);
    }
    if (!timer) send();
  });

  return {
    accepted,
    refused,
    get sent() {
      return next - options.from;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket.end();
      await closed;
    },
  };
}

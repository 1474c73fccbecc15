/**
 * The client against a real server (engine + TCP and WebSocket transports) on
 * loopback sockets: requests, subscriptions, RELEASE, failing fast while
 * disconnected, and reconnection with auto rebinding.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AnswerError, connect, type Client, type ClientState, type Incoming, type StateChange, type WebSocketConstructor } from '../../gateway/client.js';
import { cborCodec as cbor } from '../../gateway/jstp/codec/cbor-link.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ErrorCode, errors, Status } from '../../gateway/jstp/errors.js';
import { TcpTransport } from '../../gateway/transports/tcp.js';
import { WsTransport } from '../../gateway/transports/ws.js';
import type { Transport } from '../../gateway/transports/transport.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { until } from '../support/until.js';

const cleanups = cleanupsAfterEach();

type Label = 'tcp' | 'ws';

interface Server {
  engine: Engine;
  transport: Transport;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** A server: an engine with `GET ["echo", ...]` and `POST ["items"]`, behind one transport. */
async function startServer(label: Label, port = 0): Promise<Server> {
  const engine = new Engine({ answerTimeoutMs: 2_000 });
  engine.bind({ method: 'GET', resource: ['echo', '...'] }, (incoming) => ({ resource: incoming.resource, body: incoming.body }));
  engine.bind({ method: 'POST', resource: ['items'] }, (incoming) => {
    incoming.answer(201, { created: incoming.body });
    return undefined;
  });
  engine.bind({ method: 'GET', resource: ['teapot'] }, () => {
    throw new Error('no coffee here');
  });
  const transport = label === 'tcp' ? new TcpTransport({ engine, port, cbor }) : new WsTransport({ engine, port, heartbeatMs: 0, cbor });
  const address = await transport.listen();
  const url = label === 'tcp' ? `tcp://127.0.0.1:${address.port}` : `ws://127.0.0.1:${address.port}/jstp`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await transport.close();
    engine.close();
  };
  cleanups.push(stop);
  return { engine, transport, port: address.port, url, stop };
}

function open(url: string, options: Parameters<typeof connect>[1] = {}): Client {
  const client = connect(url, { answerTimeoutMs: 2_000, reconnect: { initialMs: 20, maxMs: 100 }, ...options });
  cleanups.push(() => client.close());
  return client;
}

for (const label of ['tcp', 'ws'] as const) {
  describe(`client over ${label}`, () => {
    it('connects, then gets and posts with answers', async () => {
      const server = await startServer(label);
      const client = open(server.url);
      expect(client.state).toBe('connecting');
      await client.ready();
      expect(client.state).toBe('open');

      const answer = await client.get(['echo', 'a', 7], { q: 1 });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ resource: ['echo', 'a', 7], body: { q: 1 } });

      const reply = client.post(['items'], { name: 'cup' });
      const answers = await reply.all();
      expect(answers.map((a) => a.status)).toEqual([201]);
      expect(answers[0]!.body).toEqual({ created: { name: 'cup' } });
      // The first 2xx settles the thenable too.
      expect((await reply).status).toBe(201);

      await expect(client.get(['nothing', 'here'])).rejects.toMatchObject({ status: Status.NotFound });
      const failed = await client.get(['teapot']).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(AnswerError);
      expect((failed as AnswerError).status).toBe(Status.InternalError);
      // Nothing stays open on either side once the answers are in.
      await until(() => server.engine.stats().transactions === 0, 'server transactions to end');
    });

    it('binds: receives what the server emits (and answers it), and unbind releases', async () => {
      const server = await startServer(label);
      const client = open(server.url);
      await client.ready();

      const received: Incoming[] = [];
      const unbind = client.bind({ method: 'patch', resource: ['devices', ':id', 'properties', 'temperature'] }, (incoming) => {
        received.push(incoming);
        return incoming.expectsAnswer ? { seen: incoming.params.id } : undefined;
      });
      await until(() => server.engine.stats().subscriptions === 4, 'the BIND to reach the server');

      server.engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 21.5 });
      server.engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'humidity'], { value: 40 });
      await until(() => received.length === 1, 'the PATCH');
      expect(received[0]!.body).toEqual({ value: 21.5 });
      expect(received[0]!.params).toEqual({ id: 'kitchen' });

      // A dispatch with a transaction: the client's handler answers across the wire.
      const answer = await server.engine.patch(['devices', 'porch', 'properties', 'temperature'], { value: 3 });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ seen: 'porch' });

      unbind();
      await until(() => server.engine.stats().subscriptions === 3, 'the RELEASE to reach the server');
      server.engine.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 22 });
      await expect(server.engine.patch(['devices', 'x', 'properties', 'temperature'])).rejects.toMatchObject({ status: Status.NotFound });
      expect(received).toHaveLength(2);
    });

    it('sends one BIND per endpoint, and RELEASE only when its last handler goes', async () => {
      const server = await startServer(label);
      const client = open(server.url);
      await client.ready();
      const a: unknown[] = [];
      const b: unknown[] = [];
      const unbindA = client.bind({ method: 'POST', resource: ['events', '*'] }, (incoming) => void a.push(incoming.body));
      const unbindB = client.bind({ method: 'POST', resource: ['events', '*'] }, (incoming) => void b.push(incoming.body));
      await until(() => server.engine.stats().subscriptions === 4, 'the BIND');
      server.engine.emit('POST', ['events', 'door'], 1);
      await until(() => a.length === 1 && b.length === 1, 'both handlers');

      unbindA();
      unbindA();
      server.engine.emit('POST', ['events', 'door'], 2);
      await until(() => b.length === 2, 'the second event');
      expect(a).toEqual([1]);
      expect(server.engine.stats().subscriptions).toBe(4);

      unbindB();
      await until(() => server.engine.stats().subscriptions === 3, 'the RELEASE');
    });

    it('fails fast with 502 while disconnected, and emits are dropped', async () => {
      const server = await startServer(label);
      const client = open(server.url);
      await client.ready();
      await server.stop();
      await until(() => client.state === 'reconnecting', 'the client to notice');

      const started = Date.now();
      const error = await client.get(['echo', 'x']).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AnswerError);
      expect((error as AnswerError).status).toBe(Status.UnreachableHost);
      expect(Date.now() - started).toBeLessThan(500);
      expect(() => client.emit('PATCH', ['anything'], 1)).not.toThrow();
    });

    it('answers 502 to requests in flight when the connection drops', async () => {
      const server = await startServer(label);
      server.engine.bind({ method: 'GET', resource: ['slow'] }, () => new Promise(() => undefined));
      const client = open(server.url, { answerTimeoutMs: 10_000 });
      await client.ready();
      const reply = client.get(['slow']);
      await until(() => server.engine.stats().pendingTriggers === 1, 'the request to arrive');
      const started = Date.now();
      await server.stop();
      await expect(reply).rejects.toMatchObject({ status: Status.UnreachableHost });
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('reconnects by itself after the server restarts, and its subscriptions work again', async () => {
      const first = await startServer(label);
      const client = open(first.url);
      const states: ClientState[] = [];
      client.on('state', (change) => states.push(change.state));
      await client.ready();

      const received: unknown[] = [];
      client.bind({ method: 'PATCH', resource: ['devices', '*'] }, (incoming) => void received.push(incoming.body));
      await until(() => first.engine.stats().subscriptions === 4, 'the BIND');
      first.engine.emit('PATCH', ['devices', 'a'], 1);
      await until(() => received.length === 1, 'the first PATCH');

      await first.stop();
      await until(() => client.state === 'reconnecting', 'the client to notice');
      // A few failed attempts while nothing listens.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(client.state).toBe('reconnecting');

      const second = await startServer(label, first.port);
      await client.ready();
      await until(() => second.engine.stats().subscriptions === 4, 'the BIND to be sent again');
      second.engine.emit('PATCH', ['devices', 'b'], 2);
      await until(() => received.length === 2, 'the PATCH after reconnecting');
      expect(received).toEqual([1, 2]);
      expect((await client.get(['echo'])).status).toBe(200);
      expect(states).toEqual(['open', 'reconnecting', 'open']);
    });

    it('close() ends it for good: state closed, ready() rejects, no reconnection', async () => {
      const server = await startServer(label);
      const client = open(server.url);
      await client.ready();
      await client.close();
      expect(client.state).toBe('closed');
      await expect(client.ready()).rejects.toThrow();
      expect(() => client.get(['echo'])).toThrow();
      expect(() => client.bind({ method: 'PATCH', resource: ['x'] }, () => undefined)).toThrow();
      await until(() => server.transport.stats().connections === 0, 'the server to see the close');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.transport.stats().connections).toBe(0);
    });
  });
}

describe('client options', () => {
  it('with reconnect: false, a failed first connection closes the client and ready() rejects', async () => {
    const server = await startServer('tcp');
    await server.stop();
    const client = open(server.url, { reconnect: false });
    await expect(client.ready()).rejects.toMatchObject({ status: Status.UnreachableHost });
    expect(client.state).toBe('closed');
  });

  // The dashboard's WHATWG WebSocket, the `ws` package and TCP: one code and status for "cannot connect".
  for (const path of ['tcp', 'ws package', 'WHATWG WebSocket'] as const) {
    it(`reports a refused connection as PASARELA_UNREACHABLE, status 502 (${path})`, async () => {
      const server = await startServer(path === 'tcp' ? 'tcp' : 'ws');
      await server.stop();
      const changes: StateChange[] = [];
      const client = open(server.url, {
        reconnect: false,
        ...(path === 'WHATWG WebSocket' ? { WebSocket: WebSocket as unknown as WebSocketConstructor } : {}),
      });
      client.on('state', (change) => void changes.push(change));
      const failure = await client.ready().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: ErrorCode.ChannelClosed, cause: { code: ErrorCode.Unreachable, status: Status.UnreachableHost } });
      expect(changes.at(-1)).toMatchObject({ state: 'closed', error: { code: ErrorCode.Unreachable, status: Status.UnreachableHost } });
      expect((changes.at(-1)?.error as Error).message).toMatch(/^cannot connect to /);
    });
  }

  it('stops at once when the dialer says retrying cannot help (PASARELA_NOT_SUPPORTED), and retries otherwise', async () => {
    let unsupportedDials = 0;
    const unsupported = open('ws://127.0.0.1:1/', {
      dialer: async () => {
        unsupportedDials++;
        throw errors.notSupported('no WebSocket implementation available');
      },
    });
    await expect(unsupported.ready()).rejects.toMatchObject({ cause: { code: ErrorCode.NotSupported } });
    expect(unsupported.state).toBe('closed');
    let refusedDials = 0;
    const refused = open('ws://127.0.0.1:1/', {
      dialer: async () => {
        refusedDials++;
        throw errors.unreachable('ws://127.0.0.1:1/', 'refused');
      },
    });
    await until(() => refusedDials >= 3, 'three dial attempts');
    expect(refused.state).toBe('connecting');
    expect(unsupportedDials).toBe(1);
  });

  it('keeps trying the first connection until a server appears', async () => {
    const placeholder = await startServer('tcp');
    const port = placeholder.port;
    await placeholder.stop();
    const client = open(`tcp://127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.state).toBe('connecting');
    await startServer('tcp', port);
    await client.ready();
    expect((await client.get(['echo'])).status).toBe(200);
  });

  it('uses a WHATWG WebSocket when given one (the browser path)', async () => {
    const server = await startServer('ws');
    const client = open(server.url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
    await client.ready();
    const answer = await client.get(['echo', 'browser']);
    expect(answer.body).toEqual({ resource: ['echo', 'browser'] });
  });

  for (const path of ['ws package', 'WHATWG WebSocket'] as const) {
    it(`speaks compact CBOR over ws when asked (${path})`, async () => {
      const server = await startServer('ws');
      const client = open(server.url, {
        encoding: 'cbor',
        ...(path === 'WHATWG WebSocket' ? { WebSocket: WebSocket as unknown as WebSocketConstructor } : {}),
      });
      await client.ready();
      const answer = await client.get(['echo', 'cbor', 1], { bytes: 'ok' });
      expect(answer.body).toEqual({ resource: ['echo', 'cbor', 1], body: { bytes: 'ok' } });
      const received: unknown[] = [];
      client.bind({ method: 'PATCH', resource: ['t'] }, (incoming) => void received.push(incoming.body));
      await until(() => server.engine.stats().subscriptions === 4, 'the BIND');
      server.engine.emit('PATCH', ['t'], { value: 1 });
      await until(() => received.length === 1, 'the PATCH');
      const [connection] = (server.transport as WsTransport).connections();
      expect(connection!.encoding).toBe('cbor');
    });
  }

  it('speaks compact CBOR over tcp when asked', async () => {
    const server = await startServer('tcp');
    const client = open(server.url, { encoding: 'cbor' });
    await client.ready();
    const answer = await client.get(['echo', 'over', 'tcp'], { n: 1.5 });
    expect(answer.body).toEqual({ resource: ['echo', 'over', 'tcp'], body: { n: 1.5 } });
    const [connection] = (server.transport as TcpTransport).connections();
    expect(connection!.encoding).toBe('cbor');
  });

  for (const label of ['tcp', 'ws'] as const) {
    it(`relays a request from a CBOR client to a JSON client and the answer back (${label})`, async () => {
      const server = await startServer(label);
      const jsonPeer = open(server.url);
      const cborPeer = open(server.url, { encoding: 'cbor' });
      await Promise.all([jsonPeer.ready(), cborPeer.ready()]);
      jsonPeer.bind({ method: 'GET', resource: ['kitchen', ':sensor'] }, (incoming) => ({ sensor: incoming.params.sensor, value: 21.5 }));
      await until(() => server.engine.stats().subscriptions === 4, 'the BIND');
      const answer = await cborPeer.get(['kitchen', 'temperature']);
      expect(answer.body).toEqual({ sensor: 'temperature', value: 21.5 });
      const encodings = (server.transport as TcpTransport | WsTransport).connections().map((c) => c.encoding).sort();
      expect(encodings).toEqual(['cbor', 'json']);
    });
  }

  it('rejects unknown URL schemes', () => {
    expect(() => connect('http://127.0.0.1:1')).toThrow(/scheme/);
  });
});

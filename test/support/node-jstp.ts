/**
 * Test helpers that run the original engine, npm `jstp` 1.1.5 ("node-jstp"), as a peer.
 *
 * node-jstp is one module-level singleton: one subscription list, one outbound
 * connection pool, servers that cannot be closed, 10 s timers and console logging.
 * So every `startNodeJstp()` runs it in a child process of its own (this same file,
 * started with `--import tsx`) and drives it over IPC. That gives:
 * - as many independent node-jstp engines as a test wants (node-jstp can talk to
 *   node-jstp over real sockets; in one process it would talk to itself and loop);
 * - a real close(): the child exits, so its sockets close and its timers die;
 * - a silent console: the child keeps node-jstp's log lines (see `logs()`).
 * Tests that load node-jstp in their own process instead (as bench/engine.ts does)
 * share its global state: keep them in their own file (vitest runs one file per
 * forked process).
 *
 * Handlers run inside the child, so they are declared as data (`answers`) and
 * what they receive is recorded and sent back (`received`, `waitFor`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type jstp from 'jstp';

export type NodeJstpHop = jstp.Hop;
export type NodeJstpEndpoint = jstp.Endpoint;
/** A dispatch as node-jstp sent or handled it (any headers; token may hold 0-3 ids). */
export type NodeJstpDispatch = jstp.WireDispatch;

/** How a node-jstp subscriber answers: a status and body, or 200 with the dispatch it got. */
export type NodeJstpReply = { status: number; body?: unknown } | 'echo';

export interface StartNodeJstpOptions {
  /** Start node-jstp's TCP server on this port; 0 picks a free one. Omitted: no TCP server. */
  tcpPort?: number;
  /** Start node-jstp's WebSocket server (an http server it upgrades) on this port; 0 picks one. */
  wsPort?: number;
  /** Interface both servers listen on (node-jstp alone would use every interface). */
  listenHost?: string;
  /** node-jstp's answer timeout (`timeoutLapse`); its default is 10 s. */
  answerTimeoutMs?: number;
  /** How long to wait for the child to start (tsx compiles this file first). */
  startTimeoutMs?: number;
}

export interface BindOptions {
  /** Answers sent, in order, to each received dispatch that carries a transaction id. */
  answers?: NodeJstpReply[];
  /**
   * Bind on a remote engine: node-jstp forwards the BIND there (and, being node-jstp,
   * also keeps it locally). Dispatches come back over its pooled outbound connection.
   */
  host?: NodeJstpHop[];
}

/** Dispatches that arrived for a binding, or answers that arrived for a request. */
export interface Inbox {
  readonly items: readonly NodeJstpDispatch[];
  /** Resolves with the first `count` items once that many have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<NodeJstpDispatch[]>;
}

export interface NodeJstpBinding extends Inbox {
  readonly endpoint: NodeJstpEndpoint;
  /** RELEASEs it in node-jstp (forwarded too when it was bound with `host`). */
  release(): Promise<void>;
}

export interface NodeJstpRequest extends Inbox {
  /** The token[0] node-jstp sent the dispatch with. */
  readonly transactionId: string;
}

export interface NodeJstpState {
  bound: Array<{ method: string; resource: Array<string | number>; host: NodeJstpHop | [] }>;
  /** Transactions with triggering ids still waiting for an answer. */
  transactions: number;
  tcpConnections: number;
  wsConnections: number;
}

export interface NodeJstpPeer {
  readonly pid: number;
  /** Set when `tcpPort` was given. */
  readonly tcpPort: number | undefined;
  /** Set when `wsPort` was given; node-jstp accepts the upgrade on any path. */
  readonly wsPort: number | undefined;
  /** Binds a subscriber in node-jstp's engine (locally, or remotely with `host`). */
  bind(endpoint: NodeJstpEndpoint, options?: BindOptions): Promise<NodeJstpBinding>;
  /** node-jstp dispatches without a callback: no transaction, no answers. */
  emit(dispatch: NodeJstpDispatch): Promise<void>;
  /** node-jstp dispatches with a callback; its answers are collected. Add `host` to forward. */
  request(dispatch: NodeJstpDispatch): Promise<NodeJstpRequest>;
  state(): Promise<NodeJstpState>;
  /** node-jstp's console output, colours stripped. */
  logs(): Promise<string[]>;
  /** Errors that would have killed a plain node-jstp process (e.g. ECONNRESET on its server). */
  crashes(): Promise<string[]>;
  /** Ends the child; its servers and connections close with it. */
  close(): Promise<void>;
}

// ---- IPC messages ---------------------------------------------------------------

type Op =
  | { op: 'start'; options: StartNodeJstpOptions }
  | { op: 'bind'; key: string; endpoint: NodeJstpEndpoint; answers: NodeJstpReply[]; host?: NodeJstpHop[] }
  | { op: 'release'; key: string }
  | { op: 'emit'; dispatch: NodeJstpDispatch }
  | { op: 'request'; key: string; dispatch: NodeJstpDispatch }
  | { op: 'state' }
  | { op: 'logs' }
  | { op: 'crashes' }
  | { op: 'close' };

type Request = Op & { id: number };

type FromChild =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'event'; key: string; dispatch: NodeJstpDispatch };

const HOST_ENV = 'PASARELA_NODE_JSTP_HOST';
const SELF = fileURLToPath(import.meta.url);
/** The repository root, where `--import tsx` resolves. */
const ROOT = path.resolve(path.dirname(SELF), '../..');

// ---- parent side ----------------------------------------------------------------

class InboxImpl implements Inbox {
  readonly items: NodeJstpDispatch[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  push(dispatch: NodeJstpDispatch): void {
    this.items.push(dispatch);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.items.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  waitFor(count: number, timeoutMs = 5_000): Promise<NodeJstpDispatch[]> {
    if (this.items.length >= count) return Promise.resolve(this.items.slice(0, count));
    return new Promise((resolve, reject) => {
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.items.slice(0, count));
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`node-jstp: waited ${timeoutMs} ms for ${count} dispatch(es), got ${this.items.length}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

/** Starts node-jstp in a child process, with the servers asked for. */
export async function startNodeJstp(options: StartNodeJstpOptions = {}): Promise<NodeJstpPeer> {
  const child = fork(SELF, [], {
    execArgv: ['--import', 'tsx'],
    cwd: ROOT,
    env: { ...process.env, [HOST_ENV]: '1' },
    // stdout stays unused (node-jstp's console is captured in the child); stderr kept for failures.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4_000);
  });

  let nextId = 1;
  let exited = false;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const inboxes = new Map<string, InboxImpl>();

  child.on('message', (raw) => {
    const message = raw as FromChild;
    if (message.type === 'event') {
      inboxes.get(message.key)?.push(message.dispatch);
      return;
    }
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(`node-jstp host: ${message.error}`));
  });
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      for (const waiter of pending.values()) {
        waiter.reject(new Error(`node-jstp host exited (${code ?? signal}) ${stderr.trim()}`));
      }
      pending.clear();
      resolve();
    });
  });

  const call = <T>(op: Op): Promise<T> => {
    if (exited) return Promise.reject(new Error('node-jstp host has exited'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...op, id } satisfies Request);
    });
  };

  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  let startTimer: ReturnType<typeof setTimeout> | undefined;
  const ports = await Promise.race([
    call<{ tcpPort?: number; wsPort?: number }>({ op: 'start', options }),
    new Promise<never>((_, reject) => {
      startTimer = setTimeout(() => reject(new Error(`node-jstp host did not start in ${startTimeoutMs} ms`)), startTimeoutMs);
    }),
  ]).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  }).finally(() => clearTimeout(startTimer));

  return {
    pid: child.pid ?? -1,
    tcpPort: ports.tcpPort,
    wsPort: ports.wsPort,

    async bind(endpoint, bindOptions = {}) {
      const key = `bind-${randomUUID()}`;
      const inbox = new InboxImpl();
      inboxes.set(key, inbox);
      await call({ op: 'bind', key, endpoint, answers: bindOptions.answers ?? [], host: bindOptions.host });
      return {
        endpoint,
        get items() {
          return inbox.items;
        },
        waitFor: (count, timeoutMs) => inbox.waitFor(count, timeoutMs),
        release: () => call<void>({ op: 'release', key }),
      };
    },

    async emit(dispatch) {
      await call({ op: 'emit', dispatch });
    },

    async request(dispatch) {
      const key = `request-${randomUUID()}`;
      const inbox = new InboxImpl();
      inboxes.set(key, inbox);
      const transactionId = await call<string>({ op: 'request', key, dispatch });
      return {
        transactionId,
        get items() {
          return inbox.items;
        },
        waitFor: (count, timeoutMs) => inbox.waitFor(count, timeoutMs),
      };
    },

    state: () => call<NodeJstpState>({ op: 'state' }),
    logs: () => call<string[]>({ op: 'logs' }),
    crashes: () => call<string[]>({ op: 'crashes' }),

    async close() {
      if (exited) return;
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await call({ op: 'close' }).catch(() => undefined);
      await exitedPromise;
      clearTimeout(killTimer);
    },
  };
}

// ---- child side: hosts node-jstp ------------------------------------------------

const ANSI = /\x1b\[[0-9;]*m/g;
const MAX_LOG_LINES = 5_000;

async function runHost(send: (message: FromChild) => void): Promise<void> {
  const logs: string[] = [];
  const crashes: string[] = [];
  const capture = (...args: unknown[]): void => {
    logs.push(args.map(String).join(' ').replace(ANSI, ''));
    if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
  };
  // node-jstp logs everything with console.log (errors included); keep it off stdout.
  console.log = capture;
  console.info = capture;
  console.warn = capture;
  console.error = capture;
  // Its server sockets have no 'error' listener, so a reset connection would kill the
  // process; record it for tests to assert on, and stay up so the test can finish.
  process.on('uncaughtException', (error) => {
    crashes.push(error.stack ?? String(error));
    capture('uncaught:', error.stack ?? error);
  });

  const engine = (await import('jstp')).default;
  let tcpServer: net.Server | undefined;
  let httpServer: http.Server | undefined;
  const bindings = new Map<string, { endpoint: NodeJstpEndpoint; host?: NodeJstpHop[]; callback: jstp.Callback; context: object }>();
  const clone = (value: unknown): NodeJstpDispatch => JSON.parse(JSON.stringify(value)) as NodeJstpDispatch;

  const startTcp = (port: number, host: string): Promise<number> => {
    // tcpServer() listens on `port || 33333` and returns nothing: intercept the server
    // it creates, to choose the port (0 included) and interface and to close it later.
    const create = net.createServer;
    let server: net.Server | undefined;
    net.createServer = ((...args: Parameters<typeof net.createServer>) => {
      net.createServer = create;
      server = create(...args);
      const listen = server.listen.bind(server);
      server.listen = ((_port: number, onListening?: () => void) => listen(port, host, onListening)) as typeof server.listen;
      return server;
    }) as typeof net.createServer;
    try {
      engine.tcpServer(port);
    } finally {
      net.createServer = create;
    }
    const created = server;
    if (!created) throw new Error('node-jstp did not create a TCP server');
    tcpServer = created;
    return new Promise((resolve, reject) => {
      const onListening = (): void => resolve((created.address() as net.AddressInfo).port);
      if (created.listening) onListening();
      else created.once('listening', onListening).once('error', reject);
    });
  };

  const startWs = (port: number, host: string): Promise<number> => {
    // node-jstp only adds an 'upgrade' listener to a server we own, so we can close it.
    const server = http.createServer((_request, response) => response.writeHead(426).end());
    engine.httpServer(server);
    httpServer = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject).listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
    });
  };

  const handlers: { [K in Op['op']]: (op: Extract<Op, { op: K }>) => unknown } = {
    async start({ options }) {
      if (options.answerTimeoutMs !== undefined) engine.timeoutLapse = options.answerTimeoutMs;
      const host = options.listenHost ?? '127.0.0.1';
      const tcpPort = options.tcpPort === undefined ? undefined : await startTcp(options.tcpPort, host);
      const wsPort = options.wsPort === undefined ? undefined : await startWs(options.wsPort, host);
      return { tcpPort, wsPort };
    },
    bind({ key, endpoint, answers, host }) {
      // A context per binding keeps bindings with equal endpoints apart (node-jstp
      // dedupes and releases by endpoint + context).
      const context = { key };
      const callback: jstp.Callback = (_engine, _answer, dispatch) => {
        if (!dispatch) return;
        send({ type: 'event', key, dispatch: clone(dispatch) });
        if (!dispatch.token[0]) return;
        for (const reply of answers) {
          if (reply === 'echo') engine.answer(dispatch, 200, clone(dispatch));
          else engine.answer(dispatch, reply.status, reply.body);
        }
      };
      bindings.set(key, { endpoint, host, callback, context });
      engine.bind({ endpoint, ...(host ? { host: structuredClone(host) } : {}) }, callback, context);
    },
    release({ key }) {
      const binding = bindings.get(key);
      if (!binding) throw new Error(`unknown binding ${key}`);
      bindings.delete(key);
      const { endpoint, host, callback, context } = binding;
      engine.release({ endpoint, ...(host ? { host: structuredClone(host) } : {}) }, callback, context);
    },
    emit({ dispatch }) {
      engine.dispatch(dispatch);
    },
    request({ key, dispatch }) {
      // node-jstp would make up token[0] itself; choosing it here lets tests know it.
      const transactionId = dispatch.token?.[0] ?? randomUUID();
      engine.dispatch({ ...dispatch, token: [transactionId] }, (_engine, answer) => {
        if (answer) send({ type: 'event', key, dispatch: clone(answer) });
      });
      return transactionId;
    },
    state() {
      return {
        bound: engine.bound.map((b) => ({ method: b.endpoint.method, resource: b.endpoint.resource, host: b.host })),
        transactions: Object.keys(engine.transactionIDs).length,
        tcpConnections: engine.theTCPSockets.length,
        wsConnections: engine.theWebsockets.length,
      } satisfies NodeJstpState;
    },
    logs: () => logs.slice(),
    crashes: () => crashes.slice(),
    async close() {
      for (const socket of engine.theTCPSockets) socket.destroy();
      httpServer?.closeAllConnections();
      await Promise.all(
        [tcpServer, httpServer].map((server) => (server ? new Promise((resolve) => server.close(resolve)) : undefined)),
      );
      // The outbound pool and node-jstp's timers cannot be reached: exit once replied.
      setImmediate(() => process.exit(0));
    },
  };

  process.on('message', (raw) => {
    const request = raw as Request;
    const handler = handlers[request.op] as (op: Op) => unknown;
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (value) => send({ type: 'reply', id: request.id, ok: true, value: value ?? null }),
        (error: unknown) => send({ type: 'reply', id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  // The parent going away (e.g. a killed test run) must not leave node-jstp running.
  process.on('disconnect', () => process.exit(0));
}

if (process.env[HOST_ENV] === '1' && process.send && process.argv[1] === SELF) {
  const send = process.send.bind(process);
  void runHost((message) => {
    send(message);
  });
}

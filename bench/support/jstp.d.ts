/**
 * Minimal types for npm `jstp` 1.1.5 ("node-jstp"), which ships none. Only what our
 * tests and benches touch; see docs/node-jstp.md for how it behaves.
 */
declare module 'jstp' {
  namespace jstp {
    /** `[address, port, label]`; node-jstp defaults the port to 80 and the label to "websocket". */
    type Hop = [address: string, port: number, label?: string];

    interface Endpoint {
      method: string;
      resource: Array<string | number>;
    }

    /** What node-jstp accepts: any headers, all optional (it fills the missing ones). */
    interface WireDispatch {
      protocol?: string[];
      method?: string;
      resource?: Array<string | number>;
      endpoint?: Endpoint;
      timestamp?: number;
      /** It may hold three ids: node-jstp appends its own triggering id to a received one. */
      token?: string[];
      host?: Hop[];
      body?: unknown;
      referer?: unknown;
      [header: string]: unknown;
    }

    /** A dispatch after node-jstp's constructor filled protocol, timestamp, token, referer, body. */
    interface Dispatch extends WireDispatch {
      method: string;
      protocol: string[];
      timestamp: number;
      token: string[];
      referer: unknown;
      body: unknown;
      toString(): string;
      toLog(): string;
    }

    /**
     * Subscribers are called `(engine, null, dispatch)`; answer callbacks `(engine, answer)`.
     * `this` is the context given to bind/dispatch, or an internal object when none was.
     */
    type Callback = (this: unknown, engine: Engine, answer: Dispatch | null, dispatch?: Dispatch) => void;

    interface Bound {
      endpoint: Endpoint;
      callback: Callback;
      context: unknown;
      host: Hop | [];
      transactionID: string;
    }

    type Shorthand = (pack: WireDispatch, callback?: Callback, context?: unknown) => Engine;

    interface Engine {
      /** Every subscription, scanned linearly on each dispatch. */
      bound: Bound[];
      /** transaction id -> triggering ids still waiting for an answer. */
      transactionIDs: Record<string, string[]>;
      /** Answer timeout in ms (default 10000); read when each ANSWER subscription is made. */
      timeoutLapse: number;
      theTCPSockets: import('node:net').Socket[];
      theWebsockets: unknown[];
      dispatch(pack: WireDispatch, callback?: Callback, context?: unknown): Engine;
      answer(source: { token: string[] }, status: number, body?: unknown, callback?: Callback, context?: unknown): Engine;
      listen(options: { tcp?: number; ws?: import('node:http').Server; websocket?: import('node:http').Server }): void;
      /** Listens on `port || 33333`, on every interface; returns nothing it could be closed with. */
      tcpServer(port?: number): void;
      /** Handles WebSocket upgrades (on any path) of a server the caller owns. */
      httpServer(server: import('node:http').Server): void;
      get: Shorthand;
      post: Shorthand;
      put: Shorthand;
      patch: Shorthand;
      delete: Shorthand;
      bind: Shorthand;
      on: Shorthand;
      release: Shorthand;
      off: Shorthand;
      Dispatch: new (options: WireDispatch) => Dispatch;
    }
  }
  const jstp: jstp.Engine;
  export = jstp;
}

/**
 * The client's link over a WHATWG WebSocket (browsers, or any implementation with
 * the same shape). Browser-safe: no Node imports.
 */
import type { ClientLink, DialRequest, LinkHandlers } from './client.js';
import { unrestorable } from './jstp/codec/codec.js';
import { serializeDispatch, type Dispatch } from './jstp/dispatch.js';
import { errors } from './jstp/errors.js';

/** The part of a WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;
const CLOSED = 3;

let sequence = 0;

export function dialWebSocket(WebSocketImpl: WebSocketConstructor, request: DialRequest, handlers: LinkHandlers): Promise<ClientLink> {
  if (request.encoding === 'cbor' && !request.cbor) {
    return Promise.reject(errors.notSupported('encoding cbor needs the CBOR codec'));
  }
  // This connection's aliases; the client offers them, and the gateway then aliases toward it.
  const cbor = request.encoding === 'cbor' ? request.cbor?.openLink({ offerAliases: true }) : undefined;
  const url = request.url.href;
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new WebSocketImpl(url);
    } catch (error) {
      reject(errors.unreachable(url, error instanceof Error ? error.message : String(error), { cause: error }));
      return;
    }
    socket.binaryType = 'arraybuffer';
    let opened = false;
    let closedReported = false;
    const closeWaiters: Array<() => void> = [];
    const timer = setTimeout(() => {
      fail(errors.unreachable(url, `timed out after ${request.connectTimeoutMs} ms`));
      socket.close();
    }, request.connectTimeoutMs);

    const fail = (error: Error): void => {
      clearTimeout(timer);
      if (!opened) reject(error);
    };

    const link: ClientLink = {
      id: `ws ${url} #${++sequence}`,
      send(dispatch: Dispatch): void {
        // The Channel contract: never throw for a closed connection, drop instead.
        if (socket.readyState !== OPEN) return;
        socket.send(cbor ? cbor.encode(dispatch) : serializeDispatch(dispatch));
      },
      close(): Promise<void> {
        if (socket.readyState === CLOSED) return Promise.resolve();
        return new Promise((done) => {
          closeWaiters.push(done);
          socket.close(1000);
        });
      },
    };

    socket.addEventListener('open', () => {
      clearTimeout(timer);
      opened = true;
      resolve(link);
    });
    socket.addEventListener('message', (event) => {
      // A text message is JSON, a binary one CBOR, whichever this side writes.
      const data = event.data;
      let raw: unknown;
      try {
        if (typeof data === 'string') raw = JSON.parse(data);
        else if (cbor && data instanceof ArrayBuffer) raw = cbor.decode(new Uint8Array(data));
        else if (cbor && ArrayBuffer.isView(data)) raw = cbor.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        else {
          request.logger.warn({ channel: link.id }, 'binary message dropped: this link speaks JSON');
          return;
        }
      } catch (error) {
        const refused = unrestorable(error);
        if (refused) handlers.refuse(refused.partial, refused.message);
        else request.logger.warn({ channel: link.id, err: error }, 'undecodable message dropped');
        return;
      }
      handlers.receive(raw);
    });
    socket.addEventListener('error', () => {
      // A browser tells nothing more; 'close' follows.
      fail(errors.unreachable(url, 'the WebSocket failed'));
    });
    socket.addEventListener('close', (event) => {
      fail(errors.unreachable(url, `closed with code ${event.code ?? '?'}`));
      for (const done of closeWaiters.splice(0)) done();
      if (opened && !closedReported) {
        closedReported = true;
        handlers.closed(event.code === 1000 ? undefined : errors.channelClosed(`closed (${event.code ?? '?'} ${event.reason ?? ''})`.trim()));
      }
    });
  });
}

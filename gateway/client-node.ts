/**
 * The client's Node-only dialing: `tcp://` with node:net and `ws://` / `wss://`
 * with the `ws` package, through the transports' dialTcp / dialWs. client.ts loads
 * this file with a dynamic import, so browsers never see it.
 */
import type { ClientLink, DialRequest, LinkHandlers } from './client.js';
import { sinkAsEngine, type ChannelSink } from './channel-sink.js';
import { ErrorCode, errors, PasarelaError } from './jstp/errors.js';
import type { Connection } from './transports/connection.js';
import { dialTcp } from './transports/tcp.js';
import { dialWs } from './transports/ws.js';

export async function dialNode(request: DialRequest, handlers: LinkHandlers): Promise<ClientLink> {
  if (request.encoding === 'cbor' && !request.cbor) {
    throw errors.notSupported('encoding cbor needs the CBOR codec');
  }
  let connection: Connection | undefined;
  // The connection reports to the client, which feeds its own engine.
  const sink: ChannelSink = {
    receive: (raw) => handlers.receive(raw),
    refuse: (raw, _channel, reason) => handlers.refuse(raw, reason),
    detach: () => {
      const info = connection?.closeInfo;
      handlers.closed(info && (info.code || !info.local) ? new PasarelaError(info.code ?? ErrorCode.ChannelClosed, info.reason) : undefined);
    },
  };
  const common = {
    engine: sinkAsEngine(sink),
    logger: request.logger,
    connectTimeoutMs: request.connectTimeoutMs,
    encoding: request.encoding,
    // The client offers resource aliases; the gateway then uses them toward it.
    offerAliases: true,
    ...(request.cbor ? { cbor: request.cbor } : {}),
  };
  const url = request.url;
  if (url.protocol === 'tcp:' || url.protocol === 'tls:') {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    connection = await dialTcp(host, Number(url.port), url.protocol === 'tls:' ? { ...common, tls: request.tls ?? {} } : common);
  } else if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    connection = await dialWs(url.href, request.tls ? { ...common, tls: request.tls } : common);
  } else {
    throw errors.notSupported(`unsupported URL scheme ${url.protocol}`);
  }
  const opened = connection;
  return {
    id: opened.id,
    send: (dispatch) => opened.send(dispatch),
    close: async () => {
      opened.close('client closing');
      await opened.closed;
    },
  };
}

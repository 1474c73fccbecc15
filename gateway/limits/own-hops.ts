/**
 * A gateway does not forward to itself: `host` hops that name one of its own
 * addresses and ports are taken off the front of the list as the dispatch enters
 * (an inbound stage), in one pass however many there are, so the dispatch is then
 * forwarded to the first hop that is someone else, or processed here. Without it, a
 * BIND through a hop naming the gateway would subscribe the gateway's own outbound
 * connection, and every PATCH would circulate between its two ends. Addresses it
 * cannot know it has (a DNS alias, a NAT) are caught by the `via` trace instead.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { Hop } from '../jstp/dispatch.js';
import type { Stage } from '../jstp/engine.js';

export interface OwnPorts {
  tcp: number | undefined;
  /** The HTTP port, where `ws` and `wss` hops arrive. */
  http: number | undefined;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '*']);

function normalizeHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').toLowerCase();
}

/** The names a hop may use for a gateway listening on `listenHost`. */
export function ownHostNames(listenHost: string): Set<string> {
  const host = normalizeHost(listenHost);
  const names = new Set<string>([host]);
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  if (loopback || WILDCARDS.has(host)) for (const name of ['localhost', '127.0.0.1', '::1']) names.add(name);
  if (WILDCARDS.has(host)) {
    const name = hostname().toLowerCase();
    names.add(name);
    names.add(`${name}.local`);
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) names.add(normalizeHost(address.address));
    }
  }
  return names;
}

export function isOwnHop(hop: Hop, names: ReadonlySet<string>, ports: OwnPorts): boolean {
  const [address, port, label] = hop;
  const ownPort = label === 'tcp' ? ports.tcp : label === 'ws' || label === 'wss' ? ports.http : undefined;
  return ownPort !== undefined && port === ownPort && names.has(normalizeHost(address));
}

/** The stage; `ports` is read on each dispatch, since the ports are bound after it is installed. */
export function ownHops(listenHost: string, ports: () => OwnPorts): Stage {
  const names = ownHostNames(listenHost);
  return {
    name: 'own-hops',
    inbound(dispatch) {
      const host = dispatch.host;
      if (!host || host.length === 0) return dispatch;
      const own = ports();
      let skip = 0;
      while (skip < host.length && isOwnHop(host[skip]!, names, own)) skip++;
      if (skip === 0) return dispatch;
      const rest = { ...dispatch };
      if (skip < host.length) rest.host = host.slice(skip);
      else delete rest.host;
      return rest;
    },
  };
}

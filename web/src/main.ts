/**
 * The dashboard's entry point: loads the page's own key (IndexedDB), connects the
 * JSTP client to the gateway that served the page (WebSocket on the same host and
 * port), signing with that key and sealing to the gateway, and starts the dashboard
 * and its pairing panel.
 * `?gateway=ws://host:port/` points it at another gateway; `?encoding=cbor` makes it
 * talk compact CBOR (binary WebSocket messages) instead of JSON. Where the browser
 * allows it, a service worker keeps the page available without the gateway.
 */
import { connect, type ClientEncoding } from '../../gateway/client.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import { ClientSecurityStage } from '../../gateway/security/client-stage.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import { SealingStage } from '../../gateway/security/sealing-stage.js';
import { SequenceCounter } from '../../gateway/security/sequence.js';
import { DispatchSigner } from '../../gateway/security/signer.js';
import { Dashboard } from './dashboard.js';
import { loadPageKeys } from './key-store.js';
import { Pairing } from './pairing.js';
import { sealToGateway } from './sealing.js';
import { UplinksView } from './uplinks-view.js';
import { FleetView } from './fleet-view.js';

function gatewayUrl(location: Location): string {
  const chosen = new URLSearchParams(location.search).get('gateway');
  if (chosen) return chosen;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
}

function encodingOf(location: Location): ClientEncoding {
  const chosen = new URLSearchParams(location.search).get('encoding');
  if (chosen === 'cbor') return 'cbor';
  if (chosen !== null && chosen !== 'json') console.warn(`pasarela: unknown encoding ${JSON.stringify(chosen)}, using json`);
  return 'json';
}

/** Only real problems reach the console; the connection state is on the page. */
const quiet = (): void => undefined;
const logger: Logger = {
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: (details: unknown, message?: string) => console.warn('pasarela:', message ?? details, details),
  error: (details: unknown, message?: string) => console.error('pasarela:', message ?? details, details),
  fatal: (details: unknown, message?: string) => console.error('pasarela:', message ?? details, details),
  child: () => logger,
};

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

// The offline shell (service-worker.ts). Browsers allow service workers on https and
// localhost only: over plain http on a LAN the page works as it always did, without one.
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('sw.js').catch((error: unknown) => console.warn('pasarela: the offline shell is not available', error));
}

async function boot(): Promise<void> {
  // WebCrypto is not there on a page served over http from a LAN address (not a
  // secure context): @noble/curves signs in every case.
  const keys = await loadPageKeys(nobleSuite);
  const url = gatewayUrl(window.location);
  const client = connect(url, {
    logger,
    encoding: encodingOf(window.location),
    // A dashboard should come back soon after the gateway does.
    reconnect: { initialMs: 250, maxMs: 3_000 },
  });
  // Before the signing stage: inbound it opens what was sealed here, outbound it seals what was signed.
  const sealing = new SealingStage({ suite: nobleSuite, identity: keys.identity, present: true, logger });
  client.use(sealing);
  client.use(
    new ClientSecurityStage({
      suite: nobleSuite,
      signer: new DispatchSigner(keys.identity, new SequenceCounter(keys.sequence)),
      ...(keys.grant === undefined ? {} : { grant: keys.grant }),
      logger,
    }),
  );
  const dashboard = new Dashboard(client, {
    connection: element('connection'),
    connectionText: element('connection-text'),
    drivers: element('drivers'),
    notice: element('notice'),
    log: element<HTMLOListElement>('event-log'),
  });
  new Pairing(client, dashboard, keys, element('pairing'), url).start();
  sealToGateway(client, sealing);
  dashboard.start();
  new UplinksView(client, element('uplinks'), element('uplink-list')).start();
  new FleetView(client, element('fleet'), element('fleet-summary'), element('fleet-list')).start();
}

void boot();

/**
 * The dashboard's entry point: connects the JSTP client to the gateway that served
 * the page (WebSocket on the same host and port) and starts the dashboard.
 * `?gateway=ws://host:port/` points it at another gateway.
 */
import { connect } from '../../gateway/client.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import { Dashboard } from './dashboard.js';

/**
 * crypto.randomUUID exists only in secure contexts (https, localhost), but a phone
 * opens the gateway at its LAN address over plain http. getRandomValues works
 * everywhere; the client and engine only need unique ids, not secrecy.
 */
function ensureRandomUUID(): void {
  const cryptoObject = globalThis.crypto as Crypto & { randomUUID?: () => string };
  if (typeof cryptoObject.randomUUID === 'function') return;
  cryptoObject.randomUUID = () => {
    const bytes = cryptoObject.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as `${string}-${string}-${string}-${string}-${string}`;
  };
}

function gatewayUrl(location: Location): string {
  const chosen = new URLSearchParams(location.search).get('gateway');
  if (chosen) return chosen;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
}

/** Only real problems reach the console; the connection state is on the page. */
const quiet = (): void => undefined;
const logger = {
  level: 'warn',
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: (details: unknown, message?: string) => console.warn('pasarela:', message ?? details, details),
  error: (details: unknown, message?: string) => console.error('pasarela:', message ?? details, details),
  fatal: (details: unknown, message?: string) => console.error('pasarela:', message ?? details, details),
  child: () => logger,
} as unknown as Logger;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

ensureRandomUUID();
const client = connect(gatewayUrl(window.location), {
  logger,
  // A dashboard should come back soon after the gateway does.
  reconnect: { initialDelayMs: 250, maxDelayMs: 3_000 },
});
new Dashboard(client, {
  connection: element('connection'),
  connectionText: element('connection-text'),
  drivers: element('drivers'),
  notice: element('notice'),
  log: element<HTMLOListElement>('event-log'),
}).start();

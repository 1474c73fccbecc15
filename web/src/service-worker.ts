/**
 * The dashboard's service worker (built into web/dist/sw.js): keeps the page's shell
 * (the page, its script, styles, manifest and icons of this build) in a cache, so
 * that the dashboard opens without the gateway and says "gateway unreachable" itself
 * instead of the browser's error page. The page is always asked of the gateway
 * first, so a new build shows at once; the hashed files never change, so they come
 * from the cache. JSTP goes over WebSocket, which a service worker never sees.
 *
 * Browsers run service workers only for https pages and localhost; main.ts registers
 * it only there.
 */

/** Written in by scripts/build-web.mjs: this build's shell. */
declare const __PASARELA_SHELL__: { readonly version: string; readonly files: readonly string[] };

// The few service worker types used here (the DOM lib does not have them).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface ServiceWorkerScope {
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
}

const worker = self as unknown as ServiceWorkerScope;
const PREFIX = 'pasarela-shell-';
const CACHE = `${PREFIX}${__PASARELA_SHELL__.version}`;
/** The page itself is kept under the scope's URL (the gateway serves it at `/`). */
const PAGE = new URL('./', worker.location.href).href;
const FILES = new Set(__PASARELA_SHELL__.files.map((file) => new URL(file, worker.location.href).href));

/** When even the shell is not cached (the very first visit was never finished). */
function unreachable(): Response {
  const page = '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Pasarela</title><h1>Pasarela</h1><p>Gateway unreachable.</p>';
  return new Response(page, { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

worker.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([PAGE, ...FILES])).then(() => worker.skipWaiting()));
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request).then(
        (response) => {
          if (response.ok) {
            const copy = response.clone();
            void caches.open(CACHE).then((cache) => cache.put(PAGE, copy));
          }
          return response;
        },
        async () => (await caches.match(PAGE)) ?? unreachable(),
      ),
    );
    return;
  }
  const url = new URL(request.url);
  url.search = '';
  if (FILES.has(url.href)) {
    event.respondWith(caches.match(url.href).then((hit) => hit ?? fetch(request)));
  }
});

/**
 * Serves the built dashboard (web/dist) as the gateway's plain-HTTP handler.
 *
 * - GET and HEAD only; paths are decoded, normalized and must stay under the root
 *   (`..`, encoded slashes, NUL bytes, dot-files and symlinks out of the root get 404).
 * - Files whose names carry a content hash (`main-3F2A9C1B.js`) are cached for a year
 *   as immutable; everything else (index.html) is revalidated on each load with its
 *   ETag, so a rebuilt page shows up at once.
 * - A precompressed `.gz` sibling (written by scripts/build-web.mjs) is sent when the
 *   browser accepts gzip.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type http from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger, type Logger } from './jstp/logger.js';

export type StaticRequestHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface StaticHandlerOptions {
  /** The folder to serve (default: the dashboard's build, see `dashboardRoot()`). */
  root?: string;
  /** Served for `/` and any path ending in `/` (default index.html). */
  index?: string;
  logger?: Logger;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]` names: 8 upper-case base32 characters before the extension. */
const HASHED = /-[A-Z0-9]{8}\.[a-z]+$/;

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The page loads only its own files and talks JSTP over WebSocket to this host.
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
} as const;

/** The dashboard's build folder, found from this file in the source tree and in dist/. */
export function dashboardRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pasarela') {
      return join(dir, 'web', 'dist');
    }
    const parent = dirname(dir);
    if (parent === dir) return resolve('web', 'dist');
    dir = parent;
  }
}

function plain(response: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers });
  response.end(`${text}\n`);
}

/**
 * The path of the file a request names, relative to the root, or undefined when the
 * request may not name a file (traversal, bad encoding, dot-files).
 */
export function requestedPath(url: string | undefined, index: string): string | undefined {
  const pathname = (url ?? '/').split(/[?#]/, 1)[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  // An encoded slash or backslash would let a segment hide a separator from the checks below.
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\') || /%2f|%5c/i.test(pathname)) return undefined;
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    // `..` never climbs; dot-files (.git, .env) are never served.
    if (segment.startsWith('.')) return undefined;
    segments.push(segment);
  }
  if (decoded.endsWith('/')) segments.push(index);
  return segments.join('/');
}

/** Creates the handler; it reads the disk on each request, so a rebuild needs no restart. */
export function createStaticHandler(options: StaticHandlerOptions = {}): StaticRequestHandler {
  const root = resolve(options.root ?? dashboardRoot());
  const index = options.index ?? 'index.html';
  const logger = options.logger ?? silentLogger();
  let realRoot: Promise<string> | undefined;

  const serve = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      plain(response, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
      return;
    }
    const relative = requestedPath(request.url, index);
    if (relative === undefined) {
      plain(response, 404, 'Not Found');
      return;
    }
    let base: string;
    try {
      base = await (realRoot ??= realpath(root));
    } catch {
      realRoot = undefined;
      plain(response, 503, 'The dashboard is not built: run `npm run build`.');
      return;
    }
    let real: string;
    try {
      real = await realpath(join(base, relative));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') logger.warn({ err: error, path: relative }, 'static file lookup failed');
      plain(response, 404, 'Not Found');
      return;
    }
    // A symlink inside the root must not lead out of it.
    if (!real.startsWith(base + sep)) {
      plain(response, 404, 'Not Found');
      return;
    }
    const info = await stat(real);
    if (!info.isFile()) {
      plain(response, 404, 'Not Found');
      return;
    }

    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': HASHED.test(real) ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag,
      'last-modified': info.mtime.toUTCString(),
      vary: 'accept-encoding',
      ...SECURITY_HEADERS,
    };
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }

    let body = real;
    let size = info.size;
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      const gz = await stat(`${real}.gz`).catch(() => undefined);
      // Only a .gz at least as new as its source: a stale one would serve an old page.
      if (gz?.isFile() && gz.mtimeMs >= info.mtimeMs) {
        body = `${real}.gz`;
        size = gz.size;
        headers['content-encoding'] = 'gzip';
      }
    }
    headers['content-length'] = String(size);
    response.writeHead(200, headers);
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    const stream = createReadStream(body);
    stream.on('error', (error) => {
      logger.warn({ err: error, path: relative }, 'static file read failed');
      response.destroy(error);
    });
    stream.pipe(response);
  };

  return (request, response) => {
    serve(request, response).catch((error: unknown) => {
      logger.error({ err: error, url: request.url }, 'static handler failed');
      if (!response.headersSent) plain(response, 500, 'Internal Server Error');
      else response.destroy();
    });
  };
}

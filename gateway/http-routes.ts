/**
 * The HTTP routes plugins add on the dashboard's port (`/metrics`, a manifest, ...):
 * exact paths, looked up before the dashboard's files are served.
 */
import type http from 'node:http';
import { errors } from './jstp/errors.js';
import { silentLogger, type Logger } from './jstp/logger.js';
import type { HttpHandler, HttpRoutes } from './plugin.js';

export class HttpRouter implements HttpRoutes {
  private readonly routes = new Map<string, HttpHandler>();
  private readonly logger: Logger;

  constructor(logger: Logger = silentLogger()) {
    this.logger = logger;
  }

  route(path: string, handler: HttpHandler): () => void {
    if (!path.startsWith('/')) throw errors.config(`HTTP route ${JSON.stringify(path)} must start with "/"`);
    if (this.routes.has(path)) throw errors.config(`HTTP route ${path} is already taken`);
    this.routes.set(path, handler);
    return () => {
      if (this.routes.get(path) === handler) this.routes.delete(path);
    };
  }

  /** Serves the request if a route has its path; false when none has. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): boolean {
    const path = pathOf(request.url);
    const handler = path === undefined ? undefined : this.routes.get(path);
    if (!handler) return false;
    const fail = (error: unknown): void => {
      this.logger.error({ err: error, path }, 'HTTP route failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n');
      else response.destroy();
    };
    try {
      const done = handler(request, response);
      if (done) done.catch(fail);
    } catch (error) {
      fail(error);
    }
    return true;
  }
}

function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://gateway').pathname;
  } catch {
    return undefined;
  }
}

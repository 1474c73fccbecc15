/**
 * The method-named shortcuts (`get`, `post`, …) of a request sender, written once for
 * the engine, the client and the balancing client: each only names the method of `request`.
 */
import type { RegularMethod, ResourceElement } from './dispatch.js';
import type { Reply } from './reply.js';
import type { RequestOptions } from './engine.js';

export abstract class RequestMethods {
  abstract request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options?: RequestOptions): Reply;

  get(resource: ResourceElement[], body?: unknown, options?: RequestOptions): Reply {
    return this.request('GET', resource, body, options);
  }
  post(resource: ResourceElement[], body?: unknown, options?: RequestOptions): Reply {
    return this.request('POST', resource, body, options);
  }
  put(resource: ResourceElement[], body?: unknown, options?: RequestOptions): Reply {
    return this.request('PUT', resource, body, options);
  }
  patch(resource: ResourceElement[], body?: unknown, options?: RequestOptions): Reply {
    return this.request('PATCH', resource, body, options);
  }
  delete(resource: ResourceElement[], body?: unknown, options?: RequestOptions): Reply {
    return this.request('DELETE', resource, body, options);
  }
}

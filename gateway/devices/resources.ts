/**
 * Binds the device resources of DESIGN.md on an engine and answers them from a
 * registry. Errors become JSTP answers with their status (404, 403, 400, 502, 504);
 * anything unexpected answers 500 and is logged.
 */
import type { Engine, Handler, Incoming } from '../jstp/engine.js';
import { PasarelaError, Status } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { DeviceRegistry } from './registry.js';

/** Answers what `work` resolves with (null for undefined, so every request gets an answer). */
function serve(logger: Logger, work: (incoming: Incoming) => unknown): Handler {
  return (incoming) => {
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(work(incoming));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => incoming.answer(Status.Ok, value === undefined ? null : value),
      (error: unknown) => {
        if (error instanceof PasarelaError && error.status !== undefined) {
          incoming.answer(error.status, { error: error.message, code: error.code });
          return;
        }
        logger.error({ err: error, resource: incoming.resource }, 'device request failed');
        incoming.answer(Status.InternalError, { error: error instanceof Error ? error.message : String(error) });
      },
    );
    // Answered above; returning undefined keeps the engine from answering twice.
    return undefined;
  };
}

function param(incoming: Incoming, name: string): string {
  return String(incoming.params[name]);
}

/** Binds the device resources; returns the function that unbinds them. */
export function bindDeviceResources(engine: Engine, registry: DeviceRegistry, logger: Logger = silentLogger()): () => void {
  const unbinds = [
    engine.bind({ method: 'GET', resource: ['devices'] }, serve(logger, () => registry.list())),
    engine.bind({ method: 'GET', resource: ['devices', ':id'] }, serve(logger, (i) => registry.details(param(i, 'id')))),
    engine.bind({ method: 'GET', resource: ['devices', ':id', 'properties'] }, serve(logger, (i) => registry.values(param(i, 'id')))),
    engine.bind(
      { method: 'GET', resource: ['devices', ':id', 'properties', ':name'] },
      serve(logger, (i) => registry.readProperty(param(i, 'id'), param(i, 'name'))),
    ),
    engine.bind(
      { method: 'PUT', resource: ['devices', ':id', 'properties', ':name'] },
      serve(logger, (i) => registry.writeProperty(param(i, 'id'), param(i, 'name'), i.body)),
    ),
    engine.bind(
      { method: 'POST', resource: ['devices', ':id', 'actions', ':name'] },
      serve(logger, (i) => registry.invokeAction(param(i, 'id'), param(i, 'name'), i.body)),
    ),
  ];
  return () => {
    for (const unbind of unbinds) unbind();
  };
}

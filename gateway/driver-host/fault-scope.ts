/**
 * Which driver's code is running: every call into a scoped driver (start, stop, its
 * handlers) runs inside its scope, and Node carries the scope into whatever the call
 * starts (timers, promises, sockets and their event handlers). An exception or a
 * rejection nobody handled can then be given to the driver that raised it instead of
 * ending the process. Calls from a driver into the gateway (reports, availability)
 * run outside any scope, so the gateway's own failures are never blamed on a driver.
 *
 * On Node 20 a scope in use makes every promise of the process cost more (the async
 * hooks behind AsyncLocalStorage; bench/driver-scope.ts measures it), so nothing here
 * touches the storage until a scoped driver runs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type FaultKind = 'uncaught exception' | 'unhandled rejection';

/** Who answers for the code running in a scope. */
export interface FaultOwner {
  /** The driver's name, for logs. */
  readonly name: string;
  fault(error: unknown, kind: FaultKind): void;
}

const scope = new AsyncLocalStorage<FaultOwner>();
/** Whether any code has run in a scope (until then there is nothing to leave or look up). */
let inUse = false;

/** Runs `fn` as `owner`'s code. */
export function runAs<T>(owner: FaultOwner, fn: () => T): T {
  inUse = true;
  return scope.run(owner, fn);
}

/** Runs `fn` as the gateway's own code, whoever called. */
export function asGateway<T>(fn: () => T): T {
  return inUse ? scope.run(undefined as unknown as FaultOwner, fn) : fn();
}

/** Whether a scope has been used in this process (from then on, promises cost more). */
export function scopeInUse(): boolean {
  return inUse;
}

/**
 * For the command's `uncaughtException` and `unhandledRejection` handlers (they run in
 * the scope of the code that failed): hands the error to the driver whose code raised
 * it and returns true, or returns false when no driver did (then the process should end).
 */
export function claimDriverFault(error: unknown, kind: FaultKind): boolean {
  const owner = inUse ? scope.getStore() : undefined;
  if (!owner) return false;
  owner.fault(error, kind);
  return true;
}

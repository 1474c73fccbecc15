/**
 * The outbox's writer thread: it owns the SQLite connection that writes, so a commit's
 * fsync never blocks the gateway's event loop. It knows no queue logic: it runs the
 * transactions the main thread sends (lists of prepared statements with their
 * arguments), one at a time, and says when each committed or failed.
 *
 * Its source is a string run with `eval`, so the same code works from the TypeScript
 * sources (tsx, vitest) and from dist/ without a loader in the worker. It stays this
 * small on purpose: everything that decides is typed TypeScript in outbox.ts.
 */

/** What the writer thread is started with. */
export interface WriterSetup {
  /** The resolved path of better-sqlite3, loaded with require in the thread. */
  readonly driver: string;
  readonly path: string;
  /** Each PRAGMA, and the value it must answer (lower case) when one is given. */
  readonly pragmas: readonly (readonly [statement: string, expected?: string])[];
  readonly schema: string;
  readonly statements: readonly string[];
}

/** One statement of a transaction: its index in `statements`, and its arguments. */
export type WriterOp = readonly [statement: number, args: readonly (string | number)[]];

export type ToWriter = { readonly kind: 'commit'; readonly id: number; readonly ops: readonly WriterOp[] } | { readonly kind: 'close' };

export interface WriterError {
  readonly message: string;
  readonly code: string | undefined;
}

export type FromWriter =
  | { readonly kind: 'ready' }
  | { readonly kind: 'committed'; readonly id: number }
  | { readonly kind: 'failed'; readonly id?: number; readonly error: WriterError }
  | { readonly kind: 'closed' };

export const WRITER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const describe = (error) => ({ message: String((error && error.message) || error), code: error && error.code ? String(error.code) : undefined });
let db;
let run;
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.path);
  for (const [statement, expected] of workerData.pragmas) {
    const answer = db.pragma(statement, { simple: true });
    if (expected !== undefined && String(answer).toLowerCase() !== expected) {
      throw Object.assign(new Error('PRAGMA ' + statement + ' answered ' + answer + ', not ' + expected), { code: 'SQLITE_PRAGMA' });
    }
  }
  db.exec(workerData.schema);
  const statements = workerData.statements.map((sql) => db.prepare(sql));
  run = db.transaction((ops) => {
    for (const [index, args] of ops) statements[index].run(...args);
  });
  parentPort.postMessage({ kind: 'ready' });
} catch (error) {
  parentPort.postMessage({ kind: 'failed', error: describe(error) });
}
parentPort.on('message', (message) => {
  if (message.kind === 'close') {
    try {
      if (db) db.close();
    } finally {
      parentPort.postMessage({ kind: 'closed' });
      parentPort.close();
    }
    return;
  }
  if (!run) return;
  try {
    run(message.ops);
    parentPort.postMessage({ kind: 'committed', id: message.id });
  } catch (error) {
    parentPort.postMessage({ kind: 'failed', id: message.id, error: describe(error) });
  }
});
`;

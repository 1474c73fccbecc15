/**
 * The durable outbox: one SQLite file (better-sqlite3, loaded only when a store is
 * opened) holding any number of queues, one per uplink.
 *
 * - WAL with `synchronous=FULL`: a commit is fsynced before it returns (the WAL
 *   default, NORMAL, can lose the last commits on power loss).
 * - Group commit: appends and removals are gathered into transactions of at most 100
 *   appended dispatches, each started at most 10 ms after its first entry; when the
 *   writer is idle the gathered ones go at once, so a lone dispatch waits only for its
 *   own fsync.
 * - The writes run on a thread of their own (outbox-worker.ts), so an fsync never
 *   stalls the event loop; reads (replay) use a read-only connection on this thread,
 *   which WAL lets run beside the writer and which sees only committed rows.
 * - A failed write or fsync is fatal: `onFatal` is called once and nothing more is
 *   accepted. The gateway then exits non-zero and re-reads the store when restarted.
 * - Each store open is a new boot, later than every boot recorded in the file (and a
 *   timestamp, so a file deleted and made anew still gets new boots). Ids of entries
 *   are (boot, sequence within the boot) and never change.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { errors, type PasarelaError } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import { BoundedQueue, type EntrySize, type QueueBackend, type QueueStart } from './bounded-queue.js';
import { WRITER_SOURCE, type FromWriter, type WriterError, type WriterOp, type WriterSetup } from './outbox-worker.js';
import type { OutboxQueue, QueueBounds, StoredEntry } from './queue.js';

export interface OutboxOptions {
  /** The SQLite file; its folder is made if missing. */
  readonly path: string;
  readonly logger?: Logger;
  /**
   * Called once when a write or fsync failed. The default throws the error from a
   * microtask, which ends the process: carrying on would take dispatches as stored
   * that are not.
   */
  readonly onFatal?: (error: PasarelaError) => void;
  /** Appended dispatches per transaction at most (default 100; 1 is the naive way, for comparison). */
  readonly maxBatch?: number;
  /** How long a dispatch may wait for its transaction to start while another commits (default 10 ms). */
  readonly maxDelayMs?: number;
}

export interface OutboxStats {
  readonly transactions: number;
  readonly entries: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  queue TEXT NOT NULL,
  pos INTEGER NOT NULL,
  boot INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  dispatch TEXT NOT NULL,
  PRIMARY KEY (queue, pos)
) WITHOUT ROWID;
`;

/** The writer's statements, by index. */
const INSERT = 0;
const REMOVE_BEFORE = 1;
const SET_META = 2;
const STATEMENTS = [
  'INSERT INTO entries (queue, pos, boot, seq, at, bytes, dispatch) VALUES (?, ?, ?, ?, ?, ?, ?)',
  'DELETE FROM entries WHERE queue = ? AND pos < ?',
  'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
];

const PRAGMAS: WriterSetup['pragmas'] = [
  ['journal_mode = WAL', 'wal'],
  ['synchronous = FULL'],
  // 2 is FULL: checked, since a wrong spelling would silently leave NORMAL.
  ['synchronous', '2'],
];

/** How long removals alone wait for appends to share a transaction with. */
const LAZY_REMOVAL_MS = 100;

interface PostedTransaction {
  readonly id: number;
  readonly done: (() => void)[];
  readonly failed: ((error: PasarelaError) => void)[];
}

type SqliteConstructor = typeof BetterSqlite3;

function storeError(path: string, what: string, error: WriterError | Error): PasarelaError {
  const code = 'code' in error && error.code ? ` (${error.code})` : '';
  return errors.store(`uplink store ${path}: ${what}: ${error.message}${code}`);
}

export class Outbox {
  readonly path: string;
  /** This open's boot: later than every earlier one of the file. */
  readonly boot: number;
  private readonly logger: Logger;
  private readonly onFatal: (error: PasarelaError) => void;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly worker: Worker;
  private readonly reader: BetterSqlite3.Database;
  private readonly queues = new Map<string, BoundedQueue>();
  private ops: WriterOp[] = [];
  private opsDone: (() => void)[] = [];
  private opsFailed: ((error: PasarelaError) => void)[] = [];
  private opsEntries = 0;
  private readonly posted: PostedTransaction[] = [];
  private nextId = 1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  /** Set while only removals are gathered: they go with the next appends, or after LAZY_REMOVAL_MS. */
  private lazy: ReturnType<typeof setTimeout> | undefined;
  private broken: PasarelaError | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  private idle: (() => void) | undefined;
  private transactions = 0;
  private entries = 0;

  private constructor(path: string, boot: number, worker: Worker, reader: BetterSqlite3.Database, options: OutboxOptions) {
    this.path = path;
    this.boot = boot;
    this.worker = worker;
    this.reader = reader;
    this.logger = options.logger ?? silentLogger();
    this.onFatal = options.onFatal ?? ((error) => queueMicrotask(() => {
      throw error;
    }));
    this.maxBatch = options.maxBatch ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 10;
    worker.on('message', (message: FromWriter) => this.onMessage(message));
    worker.on('error', (error) => this.fatal(storeError(path, 'the writer thread failed', error)));
    worker.on('exit', (code) => {
      if (!this.closing) this.fatal(errors.store(`uplink store ${path}: the writer thread exited (${code})`));
    });
  }

  /** Opens (or makes) the store; rejects with PASARELA_STORE when it cannot be opened or written. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const path = options.path;
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw storeError(path, 'cannot make its folder', error as Error);
    }
    const require = createRequire(import.meta.url);
    const driver = require.resolve('better-sqlite3');
    const { default: Database } = (await import('better-sqlite3')) as { default: SqliteConstructor };
    const setup: WriterSetup = { driver, path, pragmas: PRAGMAS, schema: SCHEMA, statements: STATEMENTS };
    // No inherited flags: the thread needs no loader (tsx) and must read its source as CommonJS.
    const worker = new Worker(WRITER_SOURCE, { eval: true, workerData: setup, execArgv: [] });
    const first = await new Promise<FromWriter>((resolve) => {
      worker.once('message', resolve);
      worker.once('error', (error) => resolve({ kind: 'failed', error: { message: error.message, code: undefined } }));
    });
    if (first.kind !== 'ready') {
      await worker.terminate();
      throw storeError(path, 'cannot open it', first.kind === 'failed' ? first.error : { message: `writer said ${first.kind}`, code: undefined });
    }
    let reader: BetterSqlite3.Database;
    let lastBoot: number;
    try {
      reader = new Database(path, { readonly: true, fileMustExist: true });
      const row = reader.prepare('SELECT value FROM meta WHERE key = ?').get('boot') as { value: number } | undefined;
      lastBoot = row?.value ?? 0;
    } catch (error) {
      await worker.terminate();
      throw storeError(path, 'cannot read it', error as Error);
    }
    const boot = Math.max(Date.now(), lastBoot + 1);
    const outbox = new Outbox(path, boot, worker, reader, options);
    // The first write: a store on a read-only or full disk fails here, before any dispatch is taken.
    try {
      await outbox.write([SET_META, ['boot', boot]]);
    } catch (error) {
      await outbox.close().catch(() => undefined);
      throw error;
    }
    outbox.logger.debug({ path, boot }, 'uplink store open');
    return outbox;
  }

  /** The queue named `name` (an uplink's), with what it holds from before. Throws if it is open already. */
  queue(name: string, bounds: QueueBounds): OutboxQueue {
    if (this.queues.has(name)) throw errors.config(`uplink store ${this.path}: queue ${name} is open already`);
    const backend = new SqliteBackend(this, this.reader, name);
    const queue = new BoundedQueue(name, backend, bounds, { boot: this.boot, start: backend.start() });
    this.queues.set(name, queue);
    return queue;
  }

  stats(): OutboxStats {
    return { transactions: this.transactions, entries: this.entries };
  }

  /** Commits what is gathered, then closes the writer and the reader. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.post();
      if (this.posted.length > 0 && !this.broken) await new Promise<void>((resolve) => (this.idle = resolve));
      for (const queue of this.queues.values()) queue.stop();
      this.closed = true;
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.worker.postMessage({ kind: 'close' });
      await exited;
      this.reader.close();
    })();
    return this.closing;
  }

  // ---- for the queues' backends ------------------------------------------------------

  /** @internal Gathers an insert; resolves once it committed. */
  insert(queue: string, entry: StoredEntry): Promise<void> {
    this.entries++;
    return this.write([INSERT, [queue, entry.pos, entry.boot, entry.seq, entry.at, entry.bytes, entry.text]]);
  }

  /**
   * @internal Gathers a prefix removal. Nobody waits for it (a crash before it commits
   * brings the entries back, and the far end's dedup drops them), so it rides along with
   * the next appends' transaction rather than costing an fsync of its own, unless none
   * comes for a while.
   */
  removeBefore(queue: string, pos: number): void {
    this.write([REMOVE_BEFORE, [queue, pos]], false).catch(() => undefined);
  }

  // ---- group commit --------------------------------------------------------------------

  private write(op: WriterOp, isEntry = true): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(errors.store(`uplink store ${this.path} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.ops.push(op);
      this.opsDone.push(resolve);
      this.opsFailed.push(reject);
      if (!isEntry) {
        this.lazy ??= setTimeout(() => {
          this.lazy = undefined;
          if (this.posted.length === 0) this.post();
          else this.schedule();
        }, LAZY_REMOVAL_MS);
        return;
      }
      this.opsEntries++;
      if (this.opsEntries >= this.maxBatch) this.post();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.posted.length === 0) {
      // The writer is idle: what this task gathers goes as one transaction right after it.
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.post();
      });
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.post();
      }, this.maxDelayMs);
    }
  }

  private post(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.lazy) clearTimeout(this.lazy);
    this.timer = undefined;
    this.immediate = undefined;
    this.lazy = undefined;
    if (this.ops.length === 0 || this.broken) return;
    const transaction: PostedTransaction = { id: this.nextId++, done: this.opsDone, failed: this.opsFailed };
    this.worker.postMessage({ kind: 'commit', id: transaction.id, ops: this.ops });
    this.posted.push(transaction);
    this.ops = [];
    this.opsDone = [];
    this.opsFailed = [];
    this.opsEntries = 0;
  }

  private onMessage(message: FromWriter): void {
    if (message.kind === 'committed') {
      const transaction = this.posted.shift();
      if (!transaction || transaction.id !== message.id) {
        this.fatal(errors.store(`uplink store ${this.path}: commit ${message.id} out of order`));
        return;
      }
      this.transactions++;
      for (const done of transaction.done) done();
      if (this.posted.length === 0) {
        // Appends waited for this commit; removals alone wait for their timer (or the close).
        if (this.opsEntries > 0 || (this.closing && this.ops.length > 0)) this.post();
        else if (this.ops.length === 0 && this.idle) {
          const idle = this.idle;
          this.idle = undefined;
          idle();
        }
      }
    } else if (message.kind === 'failed') {
      this.fatal(storeError(this.path, 'a write failed', message.error));
    }
  }

  private fatal(error: PasarelaError): void {
    if (this.broken) return;
    this.broken = error;
    this.logger.fatal({ err: error, path: this.path }, 'uplink store write failed');
    const failed = [...this.posted.flatMap((transaction) => transaction.failed), ...this.opsFailed];
    this.posted.length = 0;
    this.ops = [];
    this.opsDone = [];
    this.opsFailed = [];
    for (const fail of failed) fail(error);
    this.idle?.();
    this.onFatal(error);
  }
}

/** One queue's entries in the outbox: durable rows in SQLite, the ones still committing in memory. */
class SqliteBackend implements QueueBackend {
  private readonly readRows: BetterSqlite3.Statement;
  private readonly readSizes: BetterSqlite3.Statement;
  private readonly sumBytes: BetterSqlite3.Statement;
  /** Entries written and not yet committed, in order. */
  private uncommitted: EntrySize[] = [];
  private durableTail = 0;

  constructor(private readonly outbox: Outbox, private readonly db: BetterSqlite3.Database, private readonly queue: string) {
    this.readRows = this.db.prepare('SELECT pos, boot, seq, at, bytes, dispatch AS text FROM entries WHERE queue = ? AND pos >= ? AND pos < ? ORDER BY pos LIMIT ?');
    this.readSizes = this.db.prepare('SELECT pos, bytes, at FROM entries WHERE queue = ? AND pos >= ? AND pos < ? ORDER BY pos LIMIT ?');
    this.sumBytes = this.db.prepare('SELECT COALESCE(SUM(bytes), 0) AS bytes FROM entries WHERE queue = ? AND pos >= ? AND pos < ?');
  }

  /** What the file holds for this queue from before. */
  start(): QueueStart {
    const db = this.db;
    const row = db.prepare('SELECT MIN(pos) AS head, MAX(pos) AS last, COALESCE(SUM(bytes), 0) AS bytes FROM entries WHERE queue = ?').get(this.queue) as
      | { head: number | null; last: number | null; bytes: number }
      | undefined;
    if (!row || row.head === null || row.last === null) return { head: 0, tail: 0, bytes: 0, oldestAt: undefined };
    this.durableTail = row.last + 1;
    const oldest = db.prepare('SELECT at FROM entries WHERE queue = ? AND pos = ?').get(this.queue, row.head) as { at: number } | undefined;
    return { head: row.head, tail: row.last + 1, bytes: row.bytes, oldestAt: oldest?.at };
  }

  insert(entry: StoredEntry): Promise<void> {
    this.uncommitted.push({ pos: entry.pos, bytes: entry.bytes, at: entry.at });
    return this.outbox.insert(this.queue, entry).then(() => {
      // Commits come back in order: the first uncommitted entry is this one, unless it was dropped meanwhile.
      if (this.uncommitted[0]?.pos === entry.pos) this.uncommitted.shift();
      this.durableTail = entry.pos + 1;
    });
  }

  removeBefore(pos: number): void {
    while (this.uncommitted.length > 0 && this.uncommitted[0]!.pos < pos) {
      // Dropped before it committed: its insert and the removal share a transaction or follow in order.
      this.uncommitted.shift();
    }
    this.outbox.removeBefore(this.queue, pos);
  }

  read(from: number, limit: number): StoredEntry[] {
    if (from >= this.durableTail) return [];
    return this.readRows.all(this.queue, from, this.durableTail, limit) as StoredEntry[];
  }

  sizes(from: number, limit: number): EntrySize[] {
    const sizes = from < this.durableTail ? (this.readSizes.all(this.queue, from, this.durableTail, limit) as EntrySize[]) : [];
    for (const size of this.uncommitted) {
      if (sizes.length >= limit) break;
      if (size.pos >= from) sizes.push(size);
    }
    return sizes;
  }

  bytesBetween(from: number, to: number): number {
    let bytes = 0;
    if (from < this.durableTail) bytes += (this.sumBytes.get(this.queue, from, Math.min(to, this.durableTail)) as { bytes: number }).bytes;
    for (const size of this.uncommitted) if (size.pos >= from && size.pos < to) bytes += size.bytes;
    return bytes;
  }
}

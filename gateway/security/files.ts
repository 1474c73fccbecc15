/**
 * The security layer's files (Node only): identity files (a JWK Set, mode 0600),
 * grant files (a chain's text), an identity's sequence numbers (`FILE.seq`, shared
 * by every process using the identity, under a lock) and a gateway's replay ceilings.
 * Every write is atomic: a temporary file, fsync, rename, fsync of the folder.
 */
import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errors } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import { decodeChain, GrantError } from './grant.js';
import { fromJwkSet, toJwkSet, type Identity } from './identity.js';
import type { ReplayStore } from './replay.js';
import type { SequenceStore } from './sequence.js';
import type { SignatureSuite } from './suite.js';

function reason(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

/** Writes a new identity file (mode 0600); refuses to replace one. */
export function writeIdentityFile(path: string, identity: Identity): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw errors.identity(`${path} exists: an identity is never overwritten (remove it first, if you mean it)`);
    throw errors.identity(`cannot write ${path} (${reason(error)})`);
  }
  try {
    writeSync(fd, `${JSON.stringify(toJwkSet(identity), null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads an identity file; refuses one that other users can read or write. */
export function readIdentityFile(path: string, suite: SignatureSuite): Identity {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw errors.identity(`cannot read identity file ${path} (${reason(error)})`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(4, '0');
    throw errors.identity(`identity file ${path} is open to other users (mode ${shown}): its secret keys must be yours alone; run: chmod 600 ${path}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw errors.identity(`identity file ${path} is not JSON (${reason(error)})`);
  }
  try {
    return fromJwkSet(suite, value);
  } catch (error) {
    throw errors.identity(`identity file ${path} is not an identity: ${(error as Error).message}`);
  }
}

export function writeGrantFile(path: string, chain: string): void {
  writeAtomic(path, `${chain}\n`, 0o644);
}

/** A grant file's chain text, checked to be a readable chain (not verified). */
export function readGrantFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw errors.identity(`cannot read grant file ${path} (${reason(error)})`);
  }
  try {
    decodeChain(text);
  } catch (error) {
    throw errors.identity(`grant file ${path} holds no grant: ${error instanceof GrantError ? error.message : String(error)}`);
  }
  return text;
}

let temporaryCount = 0;

function syncFolder(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems cannot fsync a folder; the rename is still atomic.
  }
}

/** Replaces `path` with `content` so that a crash leaves the old file or the new one, never a mix. */
export function writeAtomic(path: string, content: string, mode = 0o600): void {
  const temporary = `${path}.${process.pid}.${++temporaryCount}.tmp`;
  const fd = openSync(temporary, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  syncFolder(path);
}

async function writeAtomicAsync(path: string, content: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${++temporaryCount}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  syncFolder(path);
}

// ---- locks ------------------------------------------------------------------------------

/** Takes `path.lock` (its content: our pid); a lock whose process is gone is taken over. */
function tryLock(path: string): boolean {
  const lock = `${path}.lock`;
  try {
    const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(readFileSafe(lock));
  if (Number.isInteger(holder) && holder > 0 && (holder === process.pid || alive(holder))) return false;
  // Left by a process that died (kill -9): take it over.
  try {
    unlinkSync(lock);
  } catch {
    // Another process took it over first.
  }
  return false;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlock(path: string): void {
  try {
    unlinkSync(`${path}.lock`);
  } catch {
    // Already gone.
  }
}

/** Waits (up to `timeoutMs`) for the lock; throws naming the holder. */
function lockSync(path: string, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (!tryLock(path)) {
    if (Date.now() > deadline) throw errors.identity(`${path} is locked by process ${readFileSafe(`${path}.lock`) || '?'}`);
    Atomics.wait(pause, 0, 0, 10);
  }
}

// ---- an identity's sequence numbers ------------------------------------------------------

/**
 * The sequence store beside an identity file (`FILE.seq`: the first number nobody
 * reserved yet). A reservation is a locked read-modify-write, so two commands
 * using one identity at the same time never sign with the same number.
 */
export function fileSequenceStore(identityPath: string): SequenceStore {
  const path = `${identityPath}.seq`;
  return {
    reserve(count) {
      lockSync(path, 3_000);
      try {
        const stored = existsSync(path) ? Number(readFileSync(path, 'utf8').trim()) : 0;
        if (!Number.isSafeInteger(stored) || stored < 0) throw errors.identity(`${path} is damaged: it must hold one number`);
        writeAtomic(path, `${stored + count}\n`);
        return stored;
      } catch (error) {
        if ((error as { code?: string }).code === 'PASARELA_IDENTITY') throw error;
        throw errors.identity(`cannot reserve sequence numbers in ${path} (${reason(error)})`);
      } finally {
        unlock(path);
      }
    },
  };
}

// ---- a gateway's replay ceilings -----------------------------------------------------------

interface ReplayState {
  version: 1;
  /** Signer key (base64url) -> ceiling. */
  ceilings: Record<string, number>;
}

/**
 * The replay ceilings of a gateway, in one JSON file that only that gateway writes
 * (it holds `FILE.lock` while it runs). Writes are asynchronous and folded: while one
 * runs, every request waits for the next, which carries all of them.
 */
export class ReplayFile implements ReplayStore {
  private writing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private latest: ReadonlyMap<string, number> = new Map();
  private closed = false;
  private readonly initial: Map<string, number>;

  private constructor(private readonly path: string, initial: Map<string, number>, private readonly logger: Logger) {
    this.initial = initial;
  }

  static async open(path: string, logger: Logger): Promise<ReplayFile> {
    if (!tryLock(path) && !tryLock(path)) throw errors.identity(`${path} is in use by process ${readFileSafe(`${path}.lock`) || '?'}: one gateway per replay state file`);
    const ceilings = new Map<string, number>();
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        unlock(path);
        throw errors.identity(`cannot read replay state ${path} (${reason(error)})`);
      }
    }
    if (text !== undefined) {
      try {
        const state = JSON.parse(text) as ReplayState;
        for (const [signer, ceiling] of Object.entries(state.ceilings ?? {})) {
          if (Number.isSafeInteger(ceiling) && ceiling >= 0) ceilings.set(signer, ceiling);
        }
      } catch (error) {
        unlock(path);
        // Refusing to start is safer than forgetting what was accepted.
        throw errors.identity(`replay state ${path} is damaged (${reason(error)}): move it away only if no captured dispatch may be replayed against this gateway`);
      }
    }
    return new ReplayFile(path, ceilings, logger);
  }

  loadCeilings(): ReadonlyMap<string, number> {
    return this.initial;
  }

  saveCeilings(ceilings: ReadonlyMap<string, number>): Promise<void> {
    this.latest = ceilings;
    if (!this.writing) {
      this.writing = this.write().finally(() => {
        this.writing = undefined;
      });
      return this.writing;
    }
    // One write runs: the next one carries this request, and every other that comes meanwhile.
    this.queued ??= this.writing.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.saveCeilings(this.latest);
    });
    return this.queued;
  }

  private async write(): Promise<void> {
    if (this.closed) throw errors.identity('replay state closed');
    const state: ReplayState = { version: 1, ceilings: Object.fromEntries(this.latest) };
    try {
      await writeAtomicAsync(this.path, `${JSON.stringify(state)}\n`);
    } catch (error) {
      this.logger.error({ err: error, path: this.path }, 'cannot persist the replay state: signed dispatches wait');
      throw error;
    }
  }

  /** Waits for the writes in flight, then releases the lock. */
  async close(): Promise<void> {
    try {
      await this.queued;
      await this.writing;
    } catch {
      // Logged where it failed.
    }
    this.closed = true;
    unlock(this.path);
  }
}

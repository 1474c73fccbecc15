/**
 * A small real filesystem a test can fill: a tmpfs mounted in a temporary folder.
 * Mounting needs root; `tmpfsMissing()` says why it cannot be done here, so the test
 * skips with that reason printed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'vitest';

const run = promisify(execFile);

/** Why no tmpfs can be mounted here, or undefined when one can. */
export function tmpfsMissing(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (run the tests as root, as CI does)';
  return undefined;
}

/** Skips the running test, printing why, when no tmpfs can be mounted here. */
export function skipWithoutTmpfs(context: TestContext): void {
  const missing = tmpfsMissing();
  if (!missing) return;
  console.log(`skipped: ${missing}`);
  context.skip();
}

export interface Tmpfs {
  readonly path: string;
  /** Writes one file so that the filesystem is `fraction` full (as df counts it). */
  fill(fraction: number): Promise<void>;
  /** Removes what `fill` wrote. */
  empty(): Promise<void>;
  /** The filesystem's use, 0 to 1 (df's Use%). */
  used(): Promise<number>;
  unmount(): Promise<void>;
}

export async function mountTmpfs(sizeBytes: number): Promise<Tmpfs> {
  const path = await mkdtemp(join(tmpdir(), 'pasarela-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', path]);
  const filler = join(path, 'filler.bin');
  const used = async (): Promise<number> => {
    const stats = await statfs(path);
    const usedBlocks = stats.blocks - stats.bfree;
    return usedBlocks / (usedBlocks + stats.bavail);
  };
  return {
    path,
    async fill(fraction) {
      const stats = await statfs(path);
      const total = stats.blocks * stats.bsize;
      await writeFile(filler, Buffer.alloc(Math.floor(total * fraction)));
    },
    async empty() {
      await unlink(filler).catch(() => undefined);
    },
    used,
    async unmount() {
      // Lazily: a process still holding a file there must not leave the mount behind.
      await run('umount', ['-l', path]).catch(() => undefined);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/**
 * Writing and removing the unit file, and asking systemd to notice. The unit folder
 * is a parameter, so tests (and packagers) can aim it anywhere; systemctl runs only
 * for the real folder on a machine where systemd is running.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_UNIT_DIR, UNIT_NAME } from './systemd-unit.js';

/** The first words of every unit `renderUnit` writes: uninstall removes only such a file. */
export const UNIT_MARK = '# Written by `pasarela service install`';

export function unitPath(unitDir: string): string {
  return join(unitDir, UNIT_NAME);
}

/** Writes the unit (to a temporary name first, so a reader never sees half of it). */
export async function writeUnit(unitDir: string, text: string): Promise<{ path: string; replaced: boolean }> {
  const path = unitPath(unitDir);
  const replaced = existsSync(path);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o644 });
    // The umask may have narrowed the mode; systemd reads units as any user.
    await chmod(temporary, 0o644);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { path, replaced };
}

/** Whose unit is at the path: none, one `pasarela service install` wrote, or someone else's. */
export async function unitOwner(unitDir: string): Promise<'absent' | 'ours' | 'foreign'> {
  let text: string;
  try {
    text = await readFile(unitPath(unitDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
  return text.startsWith(UNIT_MARK) ? 'ours' : 'foreign';
}

export async function removeUnit(unitDir: string): Promise<void> {
  await rm(unitPath(unitDir));
}

/** Whether to talk to systemd: the real unit folder, on a machine booted with systemd. */
export function managesSystemd(unitDir: string): boolean {
  return unitDir === DEFAULT_UNIT_DIR && existsSync('/run/systemd/system');
}

export async function systemctl(...args: string[]): Promise<void> {
  await promisify(execFile)('systemctl', args);
}

/** Whether /etc/passwd has the user (useradd writes there; no NSS lookup needed for a local system user). */
export async function userExists(user: string): Promise<boolean> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  return passwd.split('\n').some((line) => line.split(':', 1)[0] === user);
}

/**
 * A driver's own profile kept as a data file beside its code (`profile.yaml`), loaded
 * the way the gateway loads a config's profile files: validated by `loadProfile` with
 * the driver's extension, each problem naming the file and the line.
 *
 * ```ts
 * const profile = await readProfileFile(new URL('./profile.yaml', import.meta.url), extension);
 * ```
 */
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { readDataFile } from './data-file.js';
import { loadProfile, ProfileError, type Profile, type ProfileExtension } from './profile.js';

/** Loads and validates the profile in `file` (a path or a `file:` URL); its name is the file's, unless it says `name:`. */
export async function readProfileFile<P extends z.ZodRawShape = {}, Pr extends z.ZodRawShape = {}, A extends z.ZodRawShape = {}, E extends z.ZodRawShape = {}>(
  file: string | URL,
  extension: ProfileExtension<P, Pr, A, E> = {},
): Promise<Profile<P, Pr, A, E>> {
  const path = typeof file === 'string' ? file : fileURLToPath(file);
  const { value, map } = await readDataFile(path, path, 'profile file');
  const { name, ...data } = (value !== null && typeof value === 'object' && !Array.isArray(value) ? value : { value }) as Record<string, unknown>;
  const profileName = typeof name === 'string' ? name : basename(path, extname(path));
  try {
    return loadProfile(profileName, data, extension);
  } catch (error) {
    if (!(error instanceof ProfileError)) throw error;
    throw new ProfileError(
      profileName,
      error.issues.map((issue) => {
        const line = map(issue.path);
        return { path: issue.path, message: `${issue.message} (${path}${line === undefined ? '' : `:${line}`})` };
      }),
    );
  }
}

/**
 * Device models as data files: `profiles: [./profiles/*.yaml]` in the config. Each
 * file (YAML or JSON) is one profile in the shape of the built-in ones, plus `driver`
 * (which driver it is for) and optionally `name` (default: the file's name). The
 * driver checks it (`Driver.checkProfile`) before it starts; every problem is reported
 * with the file, the line, the key and what was expected.
 */
import { basename, extname, isAbsolute, relative, resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { DataFileError, readDataFile, type ParsedData } from '../../drivers/data-file.js';
import { ConfigError, formatKey } from '../config.js';
import { PasarelaError, ErrorCode } from '../jstp/errors.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** One profile file, read and parsed. */
export interface ProfileFile {
  /** The path as messages show it (relative to the working folder when inside it). */
  readonly file: string;
  /** The profile's name: its `name`, or the file's name without the extension. */
  readonly name: string;
  /** The driver it is for. */
  readonly driver: string;
  /** The profile itself, without `driver` and `name`. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The line of a key path inside the profile (a missing key: its parent's line). */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

function shown(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

/** The files a pattern names, in a stable order; a pattern that names none is an error. */
async function expand(pattern: string, index: number, baseDir: string): Promise<string[]> {
  if (!isDynamicPattern(pattern)) return [resolve(baseDir, pattern)];
  const matches = await glob([pattern], { cwd: baseDir, absolute: true, onlyFiles: true, expandDirectories: false });
  if (matches.length === 0) {
    throw new ConfigError('profiles', [], `config error: profiles[${index}]: "${pattern}" matches no file (looked in ${baseDir})`);
  }
  return matches.sort();
}

async function readProfileFile(path: string): Promise<ProfileFile> {
  const file = shown(path);
  let parsed: ParsedData;
  try {
    parsed = await readDataFile(path, file, 'profile file');
  } catch (error) {
    if (error instanceof DataFileError) throw new ConfigError(file, [], error.message);
    throw error;
  }
  const { value, map } = parsed;
  const problem = (line: number | undefined, key: string, message: string): ConfigError =>
    new ConfigError(file, [], `profile error: ${file}${line === undefined ? '' : `:${line}`}: ${key}: ${message}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw problem(1, '(top level)', `expected a mapping (one device profile), got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`);
  }
  const { driver, name, ...data } = value as Record<string, unknown>;
  if (typeof driver !== 'string' || driver === '') {
    throw problem(map(['driver']) ?? 1, 'driver', `expected the name of the driver this profile is for (ble, mqtt, serial, or a driver of yours), got ${driver === undefined ? 'nothing' : JSON.stringify(driver)}`);
  }
  if (name !== undefined && (typeof name !== 'string' || !NAME.test(name))) {
    throw problem(map(['name']), 'name', `expected a profile name (letters, digits, . _ -), got ${JSON.stringify(name)}`);
  }
  return { file, name: (name as string | undefined) ?? basename(path, extname(path)), driver, data, lineOf: (keyPath) => map(keyPath) };
}

/** Reads every file the patterns name (relative to `baseDir`, the config file's folder). */
export async function loadProfileFiles(patterns: readonly string[], baseDir: string): Promise<ProfileFile[]> {
  const paths: string[] = [];
  for (const [index, pattern] of patterns.entries()) {
    for (const path of await expand(pattern, index, baseDir)) if (!paths.includes(path)) paths.push(path);
  }
  const files = await Promise.all(paths.map(readProfileFile));
  const seen = new Map<string, ProfileFile>();
  for (const file of files) {
    const key = `${file.driver}\u0000${file.name}`;
    const other = seen.get(key);
    if (other) throw new ConfigError(file.file, [], `profile error: ${file.file}: name: the ${file.driver} profile "${file.name}" is also in ${other.file}`);
    seen.set(key, file);
  }
  return files;
}

interface ProblemIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** A driver's ProfileError about a file, as a config error naming the file, the line and the key of each problem. */
export function profileFileError(file: ProfileFile, error: unknown): unknown {
  const isProfileError = error instanceof PasarelaError && error.code === ErrorCode.Profile;
  const issues = isProfileError ? ((error as { issues?: readonly ProblemIssue[] }).issues ?? []) : [];
  if (issues.length === 0) {
    const reason = error instanceof Error ? error.message : String(error);
    return new ConfigError(file.file, [], `profile error: ${file.file}: ${reason}`, { cause: error });
  }
  const lines = issues
    .map((issue) => ({ line: file.lineOf(issue.path), text: `${formatKey(issue.path)}: ${issue.message}` }))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
    .map(({ line, text }) => `${file.file}${line === undefined ? '' : `:${line}`}: ${text}`);
  const detail = lines.length === 1 ? `profile error: ${lines[0]}` : `profile errors:\n  ${lines.join('\n  ')}`;
  return new ConfigError(
    file.file,
    issues.map((issue) => {
      const line = file.lineOf(issue.path);
      return { key: formatKey(issue.path), expected: issue.message, ...(line === undefined ? {} : { line }) };
    }),
    detail,
    { cause: error },
  );
}

/**
 * Endpoint patterns: normalize (strict | quirks), compile, match with named captures.
 * CONTRACT STUB — to be implemented (see the helper brief).
 */
import type { Mode, ResourceElement } from './dispatch.js';

export type Captures = Record<string, ResourceElement>;

export interface CompiledPattern {
  /** The normalized pattern it was compiled from. */
  readonly source: readonly string[];
  /** A canonical string: equal patterns have equal keys. */
  readonly key: string;
  /** Captures (possibly empty) when the resource matches, otherwise null. */
  match(resource: readonly ResourceElement[]): Captures | null;
}

export type NormalizeResult =
  | { ok: true; pattern: string[]; repaired: boolean }
  | { ok: false; reason: string };

export function normalizePattern(input: unknown, mode: Mode): NormalizeResult {
  void input; void mode;
  throw new Error('not implemented');
}

export function compilePattern(pattern: readonly string[]): CompiledPattern {
  void pattern;
  throw new Error('not implemented');
}

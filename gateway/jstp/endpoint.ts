/**
 * Endpoint patterns: normalize (strict | quirks), compile, match with named captures.
 * See shared/JSTP.md, "Endpoint patterns". Pure: no I/O.
 *
 * A normalized pattern is an array of strings in canonical form, so that equal
 * patterns are equal arrays: numbers become their string form, and a literal carries
 * a leading backslash only when it would otherwise read as `*`, `...`, `:name` or an
 * escape (`\x` is written `x`).
 */
import type { Mode, ResourceElement } from './dispatch.js';
import { errors } from './errors.js';
import { matchSource, type Captures } from './segment-match.js';

export type { Captures } from './segment-match.js';

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

export const ELLIPSIS = '...';
export const WILDCARD = '*';
const CAPTURE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const StepKind = {
  Literal: 0,
  /** `*`: exactly one element. */
  Any: 1,
  /** `:name`: exactly one element, captured. */
  Capture: 2,
  /** `...`: zero or more elements, lazily. */
  Ellipsis: 3,
} as const;
export type StepKind = (typeof StepKind)[keyof typeof StepKind];

/** One pattern element as the matcher (and the subscription table) sees it. */
export interface PatternStep {
  readonly kind: StepKind;
  /** The literal text for Literal, the name for Capture, '' otherwise. */
  readonly text: string;
}

/**
 * Reads one pattern element. Forms that are illegal (a bare `:`, an invalid capture
 * name) come back as `invalid` so each caller decides: normalize rejects or repairs,
 * compile refuses.
 */
export function classifyElement(element: string): PatternStep | { kind: 'invalid'; reason: string } {
  if (element === ELLIPSIS) return { kind: StepKind.Ellipsis, text: '' };
  if (element === WILDCARD) return { kind: StepKind.Any, text: '' };
  const first = element.charCodeAt(0);
  if (first === 0x5c /* \ */) return { kind: StepKind.Literal, text: element.slice(1) };
  if (first === 0x3a /* : */) {
    if (element.length === 1) return { kind: 'invalid', reason: "a bare ':' is not a capture" };
    const name = element.slice(1);
    if (!CAPTURE_NAME.test(name)) return { kind: 'invalid', reason: `${JSON.stringify(element)} is not a valid capture name` };
    return { kind: StepKind.Capture, text: name };
  }
  return { kind: StepKind.Literal, text: element };
}

/** The canonical written form of a literal: escaped only when it would read otherwise. */
export function literalElement(text: string): string {
  if (text === ELLIPSIS || text === WILDCARD) return '\\' + text;
  const first = text.charCodeAt(0);
  return first === 0x5c || first === 0x3a ? '\\' + text : text;
}

function stepElement(step: PatternStep): string {
  switch (step.kind) {
    case StepKind.Literal: return literalElement(step.text);
    case StepKind.Any: return WILDCARD;
    case StepKind.Capture: return ':' + step.text;
    case StepKind.Ellipsis: return ELLIPSIS;
  }
}

/** The same text conversion dispatch.ts applies to odd resource elements in quirks mode, so both still compare equal. */
function coerceText(value: unknown): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Checks an endpoint pattern. Strict mode rejects every illegal form; quirks mode
 * repairs it (and says so with `repaired`):
 * - a non-array string or number is wrapped, an empty array becomes `["..."]`;
 * - an element that is not a string or finite number becomes a literal of its text;
 * - a bare `:` becomes `*`, an invalid `:xxx` becomes the literal `:xxx`;
 * - of duplicate capture names the last one captures, earlier ones become `*`;
 * - `...` right after `...` collapses, `*` right after `...` is read as `...` (so it
 *   collapses too). This runs after the duplicate rule so the result is always strict-valid.
 */
export function normalizePattern(input: unknown, mode: Mode): NormalizeResult {
  const quirks = mode === 'quirks';
  let repaired = false;
  let elements: readonly unknown[];
  if (Array.isArray(input)) {
    elements = input;
  } else if (quirks && (typeof input === 'string' || typeof input === 'number')) {
    elements = [input];
    repaired = true;
  } else {
    return { ok: false, reason: 'pattern must be an array of strings and numbers' };
  }
  if (elements.length === 0) {
    if (!quirks) return { ok: false, reason: 'pattern must have at least one element' };
    return { ok: true, pattern: [ELLIPSIS], repaired: true };
  }

  const steps: PatternStep[] = [];
  for (let index = 0; index < elements.length; index++) {
    const element = elements[index];
    if (typeof element === 'number' && Number.isFinite(element)) {
      steps.push({ kind: StepKind.Literal, text: String(element) });
      continue;
    }
    if (typeof element !== 'string') {
      if (!quirks) return { ok: false, reason: `pattern element ${index} is not a string or number` };
      repaired = true;
      steps.push({ kind: StepKind.Literal, text: coerceText(element) });
      continue;
    }
    const step = classifyElement(element);
    if (step.kind !== 'invalid') {
      steps.push(step);
      continue;
    }
    if (!quirks) return { ok: false, reason: `pattern element ${index}: ${step.reason}` };
    repaired = true;
    steps.push(element === ':' ? { kind: StepKind.Any, text: '' } : { kind: StepKind.Literal, text: element });
  }

  // Duplicate capture names: scan from the end so the last occurrence is the one kept.
  const names = new Set<string>();
  for (let index = steps.length - 1; index >= 0; index--) {
    const step = steps[index]!;
    if (step.kind !== StepKind.Capture) continue;
    if (!names.has(step.text)) {
      names.add(step.text);
      continue;
    }
    if (!quirks) return { ok: false, reason: `capture name ${JSON.stringify(step.text)} appears twice` };
    repaired = true;
    steps[index] = { kind: StepKind.Any, text: '' };
  }

  const pattern: string[] = [];
  let afterEllipsis = false;
  for (const step of steps) {
    if (afterEllipsis && (step.kind === StepKind.Ellipsis || step.kind === StepKind.Any)) {
      if (!quirks) {
        return { ok: false, reason: step.kind === StepKind.Ellipsis ? "'...' right after '...'" : "'*' right after '...'" };
      }
      repaired = true;
      continue;
    }
    afterEllipsis = step.kind === StepKind.Ellipsis;
    pattern.push(stepElement(step));
  }
  return { ok: true, pattern, repaired };
}

/** The number whose String() is exactly `text`, if there is one (`"1"`, `"NaN"`; not `"01"`, `"-0"`). */
export function canonicalNumber(text: string): number | undefined {
  const value = Number(text);
  return String(value) === text ? value : undefined;
}

/**
 * A compiled pattern keeps only its canonical source: matching reads the source
 * directly (segment-match.ts, linear in the resource's length), so a subscription
 * costs its pattern's elements and little more.
 */
class Compiled implements CompiledPattern {
  readonly source: readonly string[];

  /** `source` must be a fresh canonical array of its own: it is frozen, not copied. */
  constructor(source: string[]) {
    this.source = Object.freeze(source);
  }

  get key(): string {
    return JSON.stringify(this.source);
  }

  match(resource: readonly ResourceElement[]): Captures | null {
    return matchSource(this.source, 0, resource, 0, true);
  }
}

/**
 * Compiles a pattern that normalizePattern produced. Anything strict mode would
 * reject throws (code PASARELA_BAD_PATTERN, status 400); a legal but non-canonical
 * pattern (`\x`) is canonicalized first, so `source` and `key` are canonical.
 */
export function compilePattern(pattern: readonly string[]): CompiledPattern {
  const normalized = normalizePattern(pattern, 'strict');
  if (!normalized.ok) {
    throw errors.badPattern(normalized.reason);
  }
  // A copy of exact length: the array normalizePattern grew by pushing has room for 17.
  return new Compiled(normalized.pattern.slice());
}

/**
 * JSTP endpoint patterns as languages: which resources a pattern matches. Grants
 * need two questions answered exactly, not by string comparison:
 * - does a BIND's pattern share any resource with a capability's (`intersects`)?
 * - does a delegated capability's pattern match only resources its parent's matches
 *   (`includes`)? A delegation that cannot be shown to narrow is refused.
 * Both run on the patterns' automata (literal, one element, any run of elements), so
 * captures and escapes mean what they mean to the matcher. Pure.
 */
import { classifyElement, StepKind } from '../jstp/endpoint.js';

const LITERAL = 0;
const ONE = 1;
const MANY = 2;

interface Token {
  readonly kind: typeof LITERAL | typeof ONE | typeof MANY;
  readonly text: string;
}

/** A normalized pattern's tokens; throws for an element the matcher would refuse. */
export function tokens(pattern: readonly string[]): Token[] {
  return pattern.map((element) => {
    const step = classifyElement(element);
    if (step.kind === 'invalid') throw new TypeError(step.reason);
    if (step.kind === StepKind.Literal) return { kind: LITERAL, text: step.text };
    if (step.kind === StepKind.Ellipsis) return { kind: MANY, text: '' };
    return { kind: ONE, text: '' };
  });
}

/** True when some resource matches both patterns. */
export function intersects(a: readonly string[], b: readonly string[]): boolean {
  const p = tokens(a);
  const q = tokens(b);
  const width = q.length + 1;
  const seen = new Uint8Array((p.length + 1) * width);
  const stack: number[] = [0];
  seen[0] = 1;
  const visit = (i: number, j: number): void => {
    const index = i * width + j;
    if (seen[index]) return;
    seen[index] = 1;
    stack.push(index);
  };
  while (stack.length > 0) {
    const index = stack.pop()!;
    const i = Math.floor(index / width);
    const j = index % width;
    if (i === p.length && j === q.length) return true;
    const pi = p[i];
    const qj = q[j];
    // A run may be empty.
    if (pi?.kind === MANY) visit(i + 1, j);
    if (qj?.kind === MANY) visit(i, j + 1);
    if (!pi || !qj) continue;
    // Both take the same element: two literals must agree.
    if (pi.kind === LITERAL && qj.kind === LITERAL && pi.text !== qj.text) continue;
    visit(pi.kind === MANY ? i : i + 1, qj.kind === MANY ? j : j + 1);
  }
  return false;
}

/** Patterns longer than this are never shown included (the subset search is exponential in it). */
export const MAX_INCLUSION_LENGTH = 30;
const MAX_STATES = 100_000;

/**
 * True when every resource `inner` matches, `outer` matches too. Decided over the
 * alphabet of both patterns' literals plus one element equal to none of them, which
 * stands for every other element.
 */
export function includes(outer: readonly string[], inner: readonly string[]): boolean {
  if (outer.length > MAX_INCLUSION_LENGTH) return false;
  const q = tokens(outer);
  const p = tokens(inner);
  const alphabet = [...new Set([...p, ...q].filter((t) => t.kind === LITERAL).map((t) => t.text))];
  const other = '\u0000other'; // never a literal: a symbol for every element not in the patterns
  alphabet.push(other);

  const closeOuter = (set: number): number => {
    let result = set;
    for (let j = 0; j < q.length; j++) if (result & (1 << j) && q[j]!.kind === MANY) result |= 1 << (j + 1);
    return result >>> 0;
  };
  const stepOuter = (set: number, symbol: string): number => {
    let next = 0;
    for (let j = 0; j < q.length; j++) {
      if (!(set & (1 << j))) continue;
      const token = q[j]!;
      if (token.kind === MANY) next |= 1 << j;
      else if (token.kind === ONE || token.text === symbol) next |= 1 << (j + 1);
    }
    return closeOuter(next >>> 0);
  };
  const accepting = 1 << q.length;

  // States: (position in inner, set of positions in outer, whether an element was read:
  // a resource has at least one element, so the empty word is no counterexample).
  const seen = new Set<string>();
  const stack: [number, number, boolean][] = [];
  const push = (i: number, set: number, read: boolean): void => {
    const key = `${i},${set},${read ? 1 : 0}`;
    if (seen.has(key)) return;
    seen.add(key);
    stack.push([i, set, read]);
  };
  push(0, closeOuter(1), false);
  while (stack.length > 0) {
    if (seen.size > MAX_STATES) return false;
    const [i, set, read] = stack.pop()!;
    // Inner accepts here and outer does not: a resource inner matches and outer does not.
    if (read && i === p.length && !(set & accepting)) return false;
    const token = p[i];
    if (!token) continue;
    if (token.kind === MANY) push(i + 1, set, read);
    for (const symbol of alphabet) {
      if (token.kind === LITERAL && token.text !== symbol) continue;
      push(token.kind === MANY ? i : i + 1, stepOuter(set, symbol), true);
    }
  }
  return true;
}

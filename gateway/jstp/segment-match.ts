/**
 * Matching an endpoint pattern (its canonical source, see endpoint.ts) against a
 * resource in time linear in the resource's length, whatever the pattern.
 *
 * The `...` split a pattern into segments of one-element steps. Because `...` is lazy
 * and can absorb anything, the match the spec describes (shortest `...` first, with
 * backtracking) is exactly: the first segment at the start, every middle segment at
 * its leftmost place after the one before, the last segment at the very end (unless a
 * `...` ends the pattern). Taking a later place for a middle segment can never help:
 * the `...` after it could have absorbed the same elements. So each `...` is decided
 * once, nothing is tried twice, and the searches of the middle segments scan disjoint
 * stretches of the resource.
 *
 * A middle segment is found with the bit-parallel Shift-And search (one bit per step
 * of the segment, 31 to a machine word): one map lookup and one shift per element, so
 * O(resource × ⌈segment / 31⌉), which is linear for every pattern the default limits
 * allow. Small searches compare directly. Pure, synchronous, no state kept between
 * calls: nothing is retained per pattern.
 */
import type { ResourceElement } from './dispatch.js';

export type Captures = Record<string, ResourceElement>;

const ELLIPSIS = '...';
const WILDCARD = '*';
/** Below this many element comparisons a segment is searched directly. */
const DIRECT_SEARCH_LIMIT = 64;
const BITS_PER_WORD = 31;
const WORD_MASK = 0x7fffffff;

/** Step kinds as the matcher reads them from the written element. */
const LITERAL = 0;
const ONE = 1; // `*`
const CAPTURE = 2; // `:name`

/** Shared by every match without capture names, so those matches allocate nothing. */
export const NO_CAPTURES: Captures = Object.freeze({}) as Captures;

function kindOf(element: string): number {
  if (element === WILDCARD) return ONE;
  const first = element.charCodeAt(0);
  if (first === 0x3a /* : */) return element.length > 1 ? CAPTURE : ONE;
  return LITERAL;
}

/** The text a literal element stands for: a leading backslash only escapes. */
function literalText(element: string): string {
  return element.charCodeAt(0) === 0x5c /* \ */ ? element.slice(1) : element;
}

/** Numbers compare by their string form (JSTP.md): `"1"` matches 1, `"01"` does not. */
function elementText(element: ResourceElement): string {
  return typeof element === 'string' ? element : String(element);
}

/** Does the step written `element` accept the resource element `value`? */
function stepAccepts(element: string, value: ResourceElement): boolean {
  const kind = kindOf(element);
  return kind !== LITERAL || literalText(element) === elementText(value);
}

/** Where each segment landed, for captures: pairs of (pattern index, resource index, length). */
const placements: number[] = [];
let placementCount = 0;

function place(patternAt: number, resourceAt: number, length: number): void {
  const at = placementCount * 3;
  placements[at] = patternAt;
  placements[at + 1] = resourceAt;
  placements[at + 2] = length;
  placementCount++;
}

/** Does the segment source[from, from+length) fit resource[at, at+length)? The hot loop: equal strings first. */
function fitsAt(source: readonly string[], from: number, length: number, resource: readonly ResourceElement[], at: number): boolean {
  for (let k = 0; k < length; k++) {
    const element = source[from + k]!;
    const value = resource[at + k]!;
    // The same text is a match unless a backslash escapes it (`\*` is the literal `*`, not `\*`).
    if (element === value ? element.charCodeAt(0) !== 0x5c : kindOf(element) !== LITERAL) continue;
    if (!stepAccepts(element, value)) return false;
  }
  return true;
}

/**
 * The resource's elements as small ids (equal texts, equal ids), made once per walk of
 * the table (or once per match call) and only when a bit-parallel search needs it.
 * A segment then costs one lookup per literal and one array read per element.
 */
const elementIds = new Map<string, number>();
let positionIds = new Int32Array(64);
let indexedCall = 0;
let indexedLength = 0;

function indexResource(resource: readonly ResourceElement[], call: number): void {
  if (indexedCall === call) return;
  indexedCall = call;
  elementIds.clear();
  if (positionIds.length < resource.length) positionIds = new Int32Array(resource.length * 2);
  for (let at = 0; at < resource.length; at++) {
    const text = elementText(resource[at]!);
    let id = elementIds.get(text);
    if (id === undefined) elementIds.set(text, (id = elementIds.size));
    positionIds[at] = id;
  }
  indexedLength = resource.length;
}

/** Masks by element id, and the entries a search set (to clear them after). */
let masks = new Int32Array(64);
let touched = new Int32Array(64);
/** The wildcard steps of the segment searched, by word: reused, so a search allocates nothing. */
let wild = new Int32Array(4);

/** Leftmost index >= `start` where the segment source[from, from+length) fits, or -1. */
function findSegment(source: readonly string[], from: number, length: number, resource: readonly ResourceElement[], start: number, call: number): number {
  const last = resource.length - length;
  if (last < start) return -1;
  if (length === 1 || (last - start + 1) * length <= DIRECT_SEARCH_LIMIT) {
    for (let at = start; at <= last; at++) if (fitsAt(source, from, length, resource, at)) return at;
    return -1;
  }
  indexResource(resource, call);
  const words = Math.ceil(length / BITS_PER_WORD);
  const needed = words * elementIds.size;
  if (masks.length < needed) masks = new Int32Array(needed * 2);
  if (touched.length < length) touched = new Int32Array(length * 2);
  if (wild.length < words) wild = new Int32Array(words * 2);
  wild.fill(0, 0, words);
  let set = 0;
  let result = -1;
  let k = 0;
  for (; k < length; k++) {
    const element = source[from + k]!;
    const word = words === 1 ? 0 : Math.floor(k / BITS_PER_WORD);
    const bit = 1 << (words === 1 ? k : k % BITS_PER_WORD);
    if (kindOf(element) !== LITERAL) {
      wild[word]! |= bit;
      continue;
    }
    const id = elementIds.get(literalText(element));
    // A literal the resource does not hold: the segment is nowhere.
    if (id === undefined) break;
    const at = id * words + word;
    if (masks[at] === 0) touched[set++] = at;
    masks[at]! |= bit;
  }
  if (k === length) result = words === 1 ? shiftAnd(length, wild[0]!, start) : shiftAndWide(length, words, wild, start);
  for (let i = 0; i < set; i++) masks[touched[i]!] = 0;
  return result;
}

/** Shift-And with the whole segment in one word (every segment the default limits allow). */
function shiftAnd(length: number, wild: number, start: number): number {
  const found = 1 << (length - 1);
  let state = 0;
  for (let at = start; at < indexedLength; at++) {
    state = ((state << 1) | 1) & (masks[positionIds[at]!]! | wild);
    if (state & found) return at - length + 1;
  }
  return -1;
}

/** Shift-And over several words, for segments longer than a word (only with raised limits). */
function shiftAndWide(length: number, words: number, wildByWord: Int32Array, start: number): number {
  const foundWord = Math.floor((length - 1) / BITS_PER_WORD);
  const foundBit = 1 << (length - 1) % BITS_PER_WORD;
  const state = new Int32Array(words);
  for (let at = start; at < indexedLength; at++) {
    const base = positionIds[at]! * words;
    let carry = 1;
    for (let w = 0; w < words; w++) {
      const value = state[w]!;
      state[w] = (((value << 1) & WORD_MASK) | carry) & (masks[base + w]! | wildByWord[w]!);
      carry = (value >>> (BITS_PER_WORD - 1)) & 1;
    }
    if (state[foundWord]! & foundBit) return at - length + 1;
  }
  return -1;
}

/** Calls without a walk of their own get a fresh id each, so nothing indexed for one is reused. */
let freshCall = 0;

/**
 * Does `source[start..]` match `resource[from..]`? With `captures` set, also returns
 * the named captures of the match (NO_CAPTURES when the pattern has none); otherwise
 * returns NO_CAPTURES for a match. null for no match.
 */
export function matchSource(
  source: readonly string[],
  start: number,
  resource: readonly ResourceElement[],
  from: number,
  captures: boolean,
  /** The table's walk: one resource indexed once for all the tails it tries (positive ids). */
  walk?: number,
): Captures | null {
  const call = walk ?? --freshCall;
  const end = source.length;
  const length = resource.length;
  placementCount = 0;
  let p = start;
  let r = from;

  // The first segment, when the pattern does not start with `...`: anchored here.
  let q = p;
  while (q < end && source[q] !== ELLIPSIS) q++;
  if (q > p) {
    const size = q - p;
    if (q === end ? length - r !== size : length - r < size) return null;
    if (!fitsAt(source, p, size, resource, r)) return null;
    if (captures) place(p, r, size);
    r += size;
    p = q;
  } else if (q === end) {
    // An empty pattern (never compiled) matches only what is left empty.
    return r === length ? NO_CAPTURES : null;
  }

  while (p < end) {
    // source[p] is `...`: the ones right after it add nothing.
    while (p < end && source[p] === ELLIPSIS) p++;
    if (p === end) break; // A pattern ending in `...` takes whatever is left.
    q = p;
    while (q < end && source[q] !== ELLIPSIS) q++;
    const size = q - p;
    let at: number;
    if (q === end) {
      // The last segment, after the last `...`: it ends where the resource ends.
      at = length - size;
      if (at < r || !fitsAt(source, p, size, resource, at)) return null;
    } else {
      at = findSegment(source, p, size, resource, r, call);
      if (at < 0) return null;
    }
    if (captures) place(p, at, size);
    r = at + size;
    p = q;
  }
  return captures ? collect(source, resource) : NO_CAPTURES;
}

function collect(source: readonly string[], resource: readonly ResourceElement[]): Captures {
  let result: Captures | undefined;
  for (let i = 0; i < placementCount; i++) {
    const patternAt = placements[i * 3]!;
    const resourceAt = placements[i * 3 + 1]!;
    const size = placements[i * 3 + 2]!;
    for (let k = 0; k < size; k++) {
      const element = source[patternAt + k]!;
      if (kindOf(element) !== CAPTURE) continue;
      const name = element.slice(1);
      // `__proto__` is a legal capture name; a prototype-less object keeps it a plain key.
      result ??= source.includes(':__proto__') ? (Object.create(null) as Captures) : {};
      result[name] = resource[resourceAt + k]!;
    }
  }
  return result ?? NO_CAPTURES;
}

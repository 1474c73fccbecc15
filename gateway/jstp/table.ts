/**
 * The subscription table: which subscribers an incoming dispatch triggers.
 *
 * node-jstp compares a dispatch with every subscription in turn. Here each endpoint
 * method has a trie over the part of a pattern before its first `...`, so a match only
 * visits the branches the resource can follow, each node once (a node's depth is the
 * resource index it is reached at). What comes from the first `...` on (the pattern's
 * *tail*) hangs at the node where it starts, grouped by equal tails; a tail is matched
 * with the linear matcher of segment-match.ts, and the common tail `...` alone needs
 * no matching at all. So no arrangement of `...` makes a match cost more than the
 * resource's length per pattern, and nothing is walked twice.
 *
 * Memory is kept to a few small objects per subscription (it is what a hostile peer
 * can make us hold): one Subscription, the nodes its pattern adds, an entry in its
 * subscriber's list; a single child is held inline rather than in a Map.
 * Pure: no I/O, no timers.
 */
import type { CompiledPattern } from './endpoint.js';
import { canonicalNumber, classifyElement, ELLIPSIS, StepKind } from './endpoint.js';
import type { EndpointMethod, Method, ResourceElement } from './dispatch.js';
import { matchSource } from './segment-match.js';

/** Where a subscription is held: a trie node (pattern without `...`) or a group of equal tails. */
type Slot<S extends object> = TrieNode<S> | TailGroup<S>;

export class Subscription<S extends object> {
  /** @internal Its place in its subscriber's list, for O(1) removal. */
  index = -1;
  /** @internal */
  slot: Slot<S> | undefined;

  constructor(
    readonly id: number,
    readonly method: EndpointMethod,
    readonly pattern: CompiledPattern,
    readonly subscriber: S,
  ) {}
}

/** One or several subscriptions, ascending id; a single one is held without an array. */
type Held<S extends object> = Subscription<S> | Subscription<S>[] | null;

class TrieNode<S extends object> {
  /** One literal child, or the children by literal text (and again by number, for literals that are a number's String()). */
  literal: TrieNode<S> | Map<string | number, TrieNode<S>> | null = null;
  /** The child for `*` and `:name` alike: the table only decides match or no match. */
  any: TrieNode<S> | null = null;
  /** Patterns that go on with `...` from here, one group per distinct tail. */
  tails: TailIndex<S> | null = null;
  /** Subscriptions whose pattern ends here. */
  held: Held<S> = null;

  constructor(
    readonly parent: TrieNode<S> | null,
    /** The literal text of the edge from the parent; null for the `*` edge and for roots. */
    readonly text: string | null,
    /** The number whose String() `text` is, so numeric elements compare without a string. */
    readonly number: number | undefined,
  ) {}

  isEmpty(): boolean {
    return this.held === null && this.literal === null && this.any === null && this.tails === null;
  }

  accepts(element: ResourceElement): boolean {
    if (typeof element === 'string') return element === this.text;
    const expected = this.number;
    // NaN is the one number not equal to itself, yet String(NaN) === 'NaN'.
    return expected !== undefined && (element === expected || (element !== element && expected !== expected));
  }
}

class TailGroup<S extends object> {
  /** The tail `...` alone: matches whatever is left. */
  readonly rest: boolean;
  /** A literal the resource must hold for the tail to match (its longest): most misses cost one lookup. */
  readonly probe: string | undefined;
  held: Held<S> = null;
  /** The last walk that tried it, so one walk tries it once. */
  walk = 0;
  /** @internal Its place in its TailIndex list, for O(1) removal. */
  position = -1;

  constructor(
    readonly node: TrieNode<S>,
    /** A source whose elements from `start` on are the tail (the first subscription's, shared). */
    readonly source: readonly string[],
    readonly start: number,
    readonly hash: number,
  ) {
    this.rest = source.length - start === 1;
    let probe: string | undefined;
    for (let k = start + 1; k < source.length; k++) {
      const step = classifyElement(source[k]!);
      if (step.kind === StepKind.Literal && (probe === undefined || step.text.length >= probe.length)) probe = step.text;
    }
    this.probe = probe;
  }

  sameTail(source: readonly string[], start: number): boolean {
    const mine = this.source;
    if (mine.length - this.start !== source.length - start) return false;
    for (let k = 1; k < source.length - start; k++) if (mine[this.start + k] !== source[start + k]) return false;
    return true;
  }
}

/** FNV-1a over the tail's elements: equal tails, equal hashes. */
function tailHash(source: readonly string[], start: number): number {
  let hash = 0x811c9dc5;
  for (let k = start + 1; k < source.length; k++) {
    const element = source[k]!;
    for (let i = 0; i < element.length; i++) hash = Math.imul(hash ^ element.charCodeAt(i), 16777619);
    hash = Math.imul(hash ^ 0xffff, 16777619);
  }
  return hash >>> 0;
}

/** A literal's index keys: its text, and the number whose String() it is, if any. */
function literalKeys(element: string): (string | number)[] | undefined {
  const step = classifyElement(element);
  if (step.kind !== StepKind.Literal) return undefined;
  const number = canonicalNumber(step.text);
  return number === undefined ? [step.text] : [step.text, number];
}

/** Tails tried together; `walk` marks the last walk that tried them, since a resource may hold their key many times. */
class GroupList<S extends object> {
  readonly groups: TailGroup<S>[] = [];
  walk = 0;

  push(group: TailGroup<S>): void {
    group.position = this.groups.length;
    this.groups.push(group);
  }

  /** Swaps the last one into its place: order does not matter, results are sorted by id. */
  delete(group: TailGroup<S>): void {
    const last = this.groups.pop()!;
    if (last !== group) {
      this.groups[group.position] = last;
      last.position = group.position;
    }
  }
}

type GroupMap<S extends object> = Map<string | number, GroupList<S>>;

/** The texts of a resource's elements, made once per walk and only when a tail has a probe. */
let presentWalk = -1;
const present = new Set<string>();

function presentIn(resource: readonly ResourceElement[], walk: number): ReadonlySet<string> {
  if (presentWalk !== walk) {
    presentWalk = walk;
    present.clear();
    for (let i = 0; i < resource.length; i++) {
      const element = resource[i]!;
      present.add(typeof element === 'string' ? element : String(element));
    }
  }
  return present;
}

/**
 * The tails that start at one node, indexed so that a resource only tries the tails it
 * can match: a tail that ends with a literal is found by the resource's last element
 * (one lookup); one that starts with a literal after its `...`, by the elements that
 * are left; the others (`...` alone, a wildcard on both ends) are tried in turn. A tail
 * whose longest literal the resource lacks is dismissed with one lookup.
 */
class TailIndex<S extends object> {
  size = 0;
  /** Every group by the hash of its tail, for finding an equal tail in O(1). */
  private readonly byHash = new Map<number, TailGroup<S> | TailGroup<S>[]>();
  private others: GroupList<S> | null = null;
  private byLast: GroupMap<S> | null = null;
  private byFirst: GroupMap<S> | null = null;

  find(source: readonly string[], start: number): TailGroup<S> | undefined {
    const bucket = this.byHash.get(tailHash(source, start));
    if (!bucket) return undefined;
    if (!Array.isArray(bucket)) return bucket.sameTail(source, start) ? bucket : undefined;
    return bucket.find((group) => group.sameTail(source, start));
  }

  create(node: TrieNode<S>, source: readonly string[], start: number): TailGroup<S> {
    const hash = tailHash(source, start);
    const group = new TailGroup<S>(node, source, start, hash);
    const bucket = this.byHash.get(hash);
    this.byHash.set(hash, bucket === undefined ? group : Array.isArray(bucket) ? [...bucket, group] : [bucket, group]);
    this.listFor(source, start, true)!.push(group);
    this.size++;
    return group;
  }

  remove(group: TailGroup<S>): void {
    const bucket = this.byHash.get(group.hash)!;
    if (!Array.isArray(bucket)) this.byHash.delete(group.hash);
    else {
      const rest = bucket.filter((each) => each !== group);
      this.byHash.set(group.hash, rest.length === 1 ? rest[0]! : rest);
    }
    const { source, start } = group;
    const last = literalKeys(source[source.length - 1]!);
    const first = last ? undefined : literalKeys(source[start + 1] ?? '*');
    const map = last ? this.byLast : first ? this.byFirst : undefined;
    if (map) {
      // One list, under each of the literal's keys.
      const keys = (last ?? first)!;
      const list = map.get(keys[0]!)!;
      list.delete(group);
      if (list.groups.length === 0) for (const key of keys) map.delete(key);
      if (map.size === 0) {
        if (last) this.byLast = null;
        else this.byFirst = null;
      }
    } else {
      this.others!.delete(group);
      if (this.others!.groups.length === 0) this.others = null;
    }
    this.size--;
  }

  /** Appends the subscriptions of every tail that matches resource[index..]; returns the lists appended. */
  match(resource: readonly ResourceElement[], index: number, walk: number, found: Subscription<S>[]): number {
    let sources = 0;
    if (this.others) sources += tryGroups(this.others.groups, resource, index, walk, found);
    const length = resource.length;
    if (index === length) return sources;
    const ending = this.byLast?.get(resource[length - 1]!);
    if (ending) sources += tryGroups(ending.groups, resource, index, walk, found);
    const byFirst = this.byFirst;
    if (byFirst) {
      for (let at = index; at < length; at++) {
        const starting = byFirst.get(resource[at]!);
        if (!starting || starting.walk === walk) continue;
        starting.walk = walk;
        sources += tryGroups(starting.groups, resource, index, walk, found);
      }
    }
    return sources;
  }

  /** The list a tail belongs in; with `create`, made if missing. */
  private listFor(source: readonly string[], start: number, create: boolean): GroupList<S> | undefined {
    const last = literalKeys(source[source.length - 1]!);
    const first = last ? undefined : literalKeys(source[start + 1] ?? '*');
    if (!last && !first) {
      if (!this.others && create) this.others = new GroupList();
      return this.others ?? undefined;
    }
    let map = last ? this.byLast : this.byFirst;
    if (!map) {
      if (!create) return undefined;
      map = new Map();
      if (last) this.byLast = map;
      else this.byFirst = map;
    }
    const keys = (last ?? first)!;
    let list = map.get(keys[0]!);
    if (!list && create) {
      list = new GroupList();
      for (const key of keys) map.set(key, list);
    }
    return list;
  }
}

function tryGroups<S extends object>(groups: TailGroup<S>[], resource: readonly ResourceElement[], index: number, walk: number, found: Subscription<S>[]): number {
  let sources = 0;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    if (group.walk === walk) continue;
    group.walk = walk;
    if (group.rest) {
      sources += take(group.held, found);
      continue;
    }
    if (group.probe !== undefined && !presentIn(resource, walk).has(group.probe)) continue;
    if (matchSource(group.source, group.start, resource, index, false, walk)) sources += take(group.held, found);
  }
  return sources;
}

/**
 * Walk ids for every table: what is cached for one walk (the resource's texts, its
 * element ids in segment-match.ts) is keyed by it, so two tables must never share one.
 */
let walks = 0;

function byId(a: Subscription<object>, b: Subscription<object>): number {
  return a.id - b.id;
}

function hold<S extends object>(held: Held<S>, subscription: Subscription<S>): Held<S> {
  if (held === null) return subscription;
  if (Array.isArray(held)) {
    held.push(subscription);
    return held;
  }
  return [held, subscription];
}

function release<S extends object>(held: Held<S>, subscription: Subscription<S>): Held<S> {
  if (held === subscription) return null;
  if (!Array.isArray(held)) return held;
  const at = held.indexOf(subscription);
  if (at >= 0) held.splice(at, 1);
  return held.length === 1 ? held[0]! : held;
}

function sameSource(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * The subscriber's subscription to exactly this pattern in a slot. One slot can hold
 * different patterns: `*` and `:name` share a trie edge.
 */
function heldBy<S extends object>(held: Held<S>, subscriber: S, source: readonly string[]): Subscription<S> | undefined {
  if (held === null) return undefined;
  if (!Array.isArray(held)) return held.subscriber === subscriber && sameSource(held.pattern.source, source) ? held : undefined;
  for (let i = 0; i < held.length; i++) {
    const each = held[i]!;
    if (each.subscriber === subscriber && sameSource(each.pattern.source, source)) return each;
  }
  return undefined;
}

/** Where the first `...` of a pattern is (its length when it has none). */
function tailStart(source: readonly string[]): number {
  const at = source.indexOf(ELLIPSIS);
  return at < 0 ? source.length : at;
}

export class SubscriptionTable<S extends object> {
  private readonly roots = new Map<EndpointMethod, TrieNode<S>>();
  /** Per subscriber, its subscriptions (each knows its index here): idempotent add and O(own) removeSubscriber. */
  private readonly bySubscriber = new Map<S, Subscription<S>[]>();
  private nextId = 1;
  private count = 0;
  private nodes = 0;
  /** Scratch stack reused by every match, so walks allocate nothing but the result. */
  private readonly stackNodes: (TrieNode<S> | undefined)[] = [];
  private readonly stackIndexes: number[] = [];

  /** Idempotent per (subscriber, method, pattern): the second add returns the existing subscription with added=false. */
  add(method: EndpointMethod, pattern: CompiledPattern, subscriber: S): { subscription: Subscription<S>; added: boolean } {
    let root = this.roots.get(method);
    if (!root) {
      root = this.newNode(null, null);
      this.roots.set(method, root);
    }
    const slot = this.slotFor(root, pattern.source, true)!;
    const existing = heldBy(slot.held, subscriber, pattern.source);
    if (existing) return { subscription: existing, added: false };

    const subscription = new Subscription(this.nextId++, method, pattern, subscriber);
    subscription.slot = slot;
    slot.held = hold(slot.held, subscription);
    let own = this.bySubscriber.get(subscriber);
    if (!own) {
      own = [];
      this.bySubscriber.set(subscriber, own);
    }
    subscription.index = own.length;
    own.push(subscription);
    this.count++;
    return { subscription, added: true };
  }

  /** RELEASE: removes the subscriber's subscription with exactly this method and pattern. */
  remove(method: EndpointMethod, pattern: CompiledPattern, subscriber: S): boolean {
    const subscription = this.find(method, pattern, subscriber);
    return subscription ? this.removeSubscription(subscription) : false;
  }

  /** The subscriber's subscription with exactly this method and pattern, if it has one. */
  find(method: EndpointMethod, pattern: CompiledPattern, subscriber: S): Subscription<S> | undefined {
    const root = this.roots.get(method);
    const slot = root ? this.slotFor(root, pattern.source, false) : undefined;
    return slot ? heldBy(slot.held, subscriber, pattern.source) : undefined;
  }

  removeSubscription(subscription: Subscription<S>): boolean {
    const own = this.bySubscriber.get(subscription.subscriber);
    // Only the very object the table holds: a stale one (already removed, then re-added) is not it.
    if (!own || own[subscription.index] !== subscription) return false;
    const last = own.pop()!;
    if (last !== subscription) {
      own[subscription.index] = last;
      last.index = subscription.index;
    }
    if (own.length === 0) this.bySubscriber.delete(subscription.subscriber);
    this.unlink(subscription);
    this.count--;
    return true;
  }

  /** Removes everything the subscriber bound (a channel closed); returns how many. */
  removeSubscriber(subscriber: S): number {
    const own = this.bySubscriber.get(subscriber);
    if (!own) return 0;
    this.bySubscriber.delete(subscriber);
    for (const subscription of own) this.unlink(subscription);
    this.count -= own.length;
    return own.length;
  }

  /** Every subscription whose endpoint matches the dispatch method and resource, in the order they were added (ascending id). Endpoint method '*' matches any method. */
  match(method: Method, resource: readonly ResourceElement[]): Subscription<S>[] {
    const found: Subscription<S>[] = [];
    let sources = 0;
    const exact = this.roots.get(method);
    if (exact) sources += this.walk(exact, resource, found);
    const any = this.roots.get('*');
    if (any) sources += this.walk(any, resource, found);
    // Each source list is already ascending; only several of them need merging.
    if (sources > 1) found.sort(byId);
    return found;
  }

  get size(): number {
    return this.count;
  }

  countFor(subscriber: S): number {
    return this.bySubscriber.get(subscriber)?.length ?? 0;
  }

  /** Trie nodes and tail groups alive, roots included: back to 0 once every subscription is removed. */
  get nodeCount(): number {
    return this.nodes;
  }

  private newNode(parent: TrieNode<S> | null, text: string | null): TrieNode<S> {
    this.nodes++;
    return new TrieNode<S>(parent, text, text === null ? undefined : canonicalNumber(text));
  }

  /** The slot of a pattern below `root`; with `create`, made (with its path) if missing. */
  private slotFor(root: TrieNode<S>, source: readonly string[], create: boolean): Slot<S> | undefined {
    const start = tailStart(source);
    let node = root;
    for (let index = 0; index < start; index++) {
      const next = this.child(node, source[index]!, create);
      if (!next) return undefined;
      node = next;
    }
    if (start === source.length) return node;
    const found = node.tails?.find(source, start);
    if (found || !create) return found;
    this.nodes++;
    return (node.tails ??= new TailIndex()).create(node, source, start);
  }

  private child(node: TrieNode<S>, element: string, create: boolean): TrieNode<S> | undefined {
    const step = classifyElement(element);
    if (step.kind !== StepKind.Literal) {
      // Any, Capture, and (for a pattern compiled elsewhere) anything unreadable as a one-element wildcard.
      if (node.any || !create) return node.any ?? undefined;
      return (node.any = this.newNode(node, null));
    }
    const text = step.text;
    const literal = node.literal;
    if (literal instanceof Map) {
      const found = literal.get(text);
      if (found || !create) return found;
      const next = this.newNode(node, text);
      literal.set(text, next);
      if (next.number !== undefined) literal.set(next.number, next);
      return next;
    }
    if (literal && literal.text === text) return literal;
    if (!create) return undefined;
    const next = this.newNode(node, text);
    if (!literal) {
      node.literal = next;
      return next;
    }
    // A second literal child: from here on they are kept in a Map.
    const children = new Map<string | number, TrieNode<S>>();
    for (const each of [literal, next]) {
      children.set(each.text!, each);
      if (each.number !== undefined) children.set(each.number, each);
    }
    node.literal = children;
    return next;
  }

  private unlink(subscription: Subscription<S>): void {
    const slot = subscription.slot!;
    subscription.slot = undefined;
    slot.held = release(slot.held, subscription);
    if (slot.held !== null) return;
    let node: TrieNode<S>;
    if (slot instanceof TailGroup) {
      node = slot.node;
      const tails = node.tails!;
      tails.remove(slot);
      if (tails.size === 0) node.tails = null;
      this.nodes--;
    } else {
      node = slot;
    }
    // Unlink emptied nodes from the leaf up, then the root of the method if it emptied too.
    while (node.isEmpty()) {
      const parent = node.parent;
      this.nodes--;
      if (!parent) {
        this.roots.delete(subscription.method);
        return;
      }
      if (node.text === null) parent.any = null;
      else this.dropLiteral(parent, node);
      node = parent;
    }
  }

  private dropLiteral(parent: TrieNode<S>, child: TrieNode<S>): void {
    const literal = parent.literal;
    if (!(literal instanceof Map)) {
      parent.literal = null;
      return;
    }
    literal.delete(child.text!);
    if (child.number !== undefined) literal.delete(child.number);
    if (literal.size === 0) parent.literal = null;
  }

  /**
   * Walks one method's trie with the resource; appends the subscriptions of every
   * pattern that matches and returns how many non-empty lists it appended. A node is
   * reached at exactly one index (its depth), so each is visited at most once.
   */
  private walk(root: TrieNode<S>, resource: readonly ResourceElement[], found: Subscription<S>[]): number {
    const length = resource.length;
    const walk = ++walks;
    const nodes = this.stackNodes;
    const indexes = this.stackIndexes;
    let sources = 0;
    let top = 0;
    nodes[top] = root;
    indexes[top++] = 0;
    while (top > 0) {
      const node = nodes[--top]!;
      // Drop the reference so a pruned node is not kept alive by the scratch stack.
      nodes[top] = undefined;
      const index = indexes[top]!;

      if (node.tails) sources += node.tails.match(resource, index, walk, found);
      if (index === length) {
        if (node.held) sources += take(node.held, found);
        continue;
      }
      const element = resource[index]!;
      const literal = node.literal;
      if (literal) {
        const next = literal instanceof Map ? literal.get(element) : literal.accepts(element) ? literal : undefined;
        if (next) {
          nodes[top] = next;
          indexes[top++] = index + 1;
        }
      }
      if (node.any) {
        nodes[top] = node.any;
        indexes[top++] = index + 1;
      }
    }
    return sources;
  }
}

function take<S extends object>(held: Held<S>, found: Subscription<S>[]): number {
  if (held === null) return 0;
  if (!Array.isArray(held)) found.push(held);
  else for (let index = 0; index < held.length; index++) found.push(held[index]!);
  return 1;
}

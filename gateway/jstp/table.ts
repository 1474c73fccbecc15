/**
 * The subscription table: which subscribers an incoming dispatch triggers.
 *
 * node-jstp compares a dispatch with every subscription in turn; here each endpoint
 * method has a trie over pattern elements, so a match only visits the branches the
 * resource can follow and its cost does not grow with unrelated subscriptions.
 * Pure: no I/O, no timers.
 */
import type { CompiledPattern } from './endpoint.js';
import { canonicalNumber, classifyElement, StepKind } from './endpoint.js';
import type { EndpointMethod, Method, ResourceElement } from './dispatch.js';

export interface Subscription<S> {
  readonly id: number;
  readonly method: EndpointMethod;
  readonly pattern: CompiledPattern;
  readonly subscriber: S;
}

class TrieNode<S> {
  /** Children by literal text. */
  literals: Map<string, TrieNode<S>> | null = null;
  /** The same children again, by number, for literals that are the String() of a number: numeric elements then need no string. */
  numbers: Map<number, TrieNode<S>> | null = null;
  /** The child for `*` and `:name` alike: the table only decides match or no match. */
  any: TrieNode<S> | null = null;
  ellipsis: TrieNode<S> | null = null;
  /** Subscriptions whose pattern ends here, ascending id (appended as they are added). */
  subscriptions: Subscription<S>[] | null = null;
  /** Set on the child of an `...` edge: reaching it at index i means the pattern may go on at any index >= i. */
  readonly afterEllipsis: boolean;
  /** The last walk that reached this `...` node, and the lowest index it was reached at in that walk. */
  walk = 0;
  lowest = 0;

  constructor(afterEllipsis: boolean) {
    this.afterEllipsis = afterEllipsis;
  }

  isEmpty(): boolean {
    return this.subscriptions === null && this.literals === null && this.any === null && this.ellipsis === null;
  }
}

/** Where a removed subscription's path went, so emptied nodes can be unlinked bottom-up. */
interface PathEdge<S> {
  readonly parent: TrieNode<S>;
  readonly kind: StepKind;
  readonly text: string;
}

function byId(a: Subscription<unknown>, b: Subscription<unknown>): number {
  return a.id - b.id;
}

export class SubscriptionTable<S extends object> {
  private readonly roots = new Map<EndpointMethod, TrieNode<S>>();
  /** Per subscriber, its subscriptions by `method + ' ' + pattern.key`: gives idempotent add and O(own) removeSubscriber. */
  private readonly bySubscriber = new Map<S, Map<string, Subscription<S>>>();
  private nextId = 1;
  private count = 0;
  private nodes = 0;
  private walkId = 0;
  /** Scratch stack reused by every match, so walks allocate nothing but the result. */
  private readonly stackNodes: (TrieNode<S> | undefined)[] = [];
  private readonly stackIndexes: number[] = [];

  /** Idempotent per (subscriber, method, pattern.key): the second add returns the existing subscription with added=false. */
  add(method: EndpointMethod, pattern: CompiledPattern, subscriber: S): { subscription: Subscription<S>; added: boolean } {
    const bookKey = method + ' ' + pattern.key;
    let own = this.bySubscriber.get(subscriber);
    const existing = own?.get(bookKey);
    if (existing) return { subscription: existing, added: false };

    const subscription: Subscription<S> = Object.freeze({ id: this.nextId++, method, pattern, subscriber });
    let node = this.roots.get(method);
    if (!node) {
      node = this.newNode(false);
      this.roots.set(method, node);
    }
    for (const element of pattern.source) node = this.child(node, element);
    (node.subscriptions ??= []).push(subscription);

    if (!own) {
      own = new Map();
      this.bySubscriber.set(subscriber, own);
    }
    own.set(bookKey, subscription);
    this.count++;
    return { subscription, added: true };
  }

  /** RELEASE: removes the subscriber's subscription with exactly this method and pattern key. */
  remove(method: EndpointMethod, pattern: CompiledPattern, subscriber: S): boolean {
    const subscription = this.bySubscriber.get(subscriber)?.get(method + ' ' + pattern.key);
    return subscription ? this.removeSubscription(subscription) : false;
  }

  removeSubscription(subscription: Subscription<S>): boolean {
    const own = this.bySubscriber.get(subscription.subscriber);
    const bookKey = subscription.method + ' ' + subscription.pattern.key;
    // Only the very object the table holds: a stale one (already removed, then re-added) is not it.
    if (!own || own.get(bookKey) !== subscription) return false;
    own.delete(bookKey);
    if (own.size === 0) this.bySubscriber.delete(subscription.subscriber);
    this.unlink(subscription);
    this.count--;
    return true;
  }

  /** Removes everything the subscriber bound (a channel closed); returns how many. */
  removeSubscriber(subscriber: S): number {
    const own = this.bySubscriber.get(subscriber);
    if (!own) return 0;
    this.bySubscriber.delete(subscriber);
    for (const subscription of own.values()) this.unlink(subscription);
    this.count -= own.size;
    return own.size;
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
    return this.bySubscriber.get(subscriber)?.size ?? 0;
  }

  /** Trie nodes alive, roots included: back to 0 once every subscription is removed. */
  get nodeCount(): number {
    return this.nodes;
  }

  private newNode(afterEllipsis: boolean): TrieNode<S> {
    this.nodes++;
    return new TrieNode<S>(afterEllipsis);
  }

  private child(node: TrieNode<S>, element: string): TrieNode<S> {
    const step = classifyElement(element);
    if (step.kind === StepKind.Ellipsis) return (node.ellipsis ??= this.newNode(true));
    if (step.kind === StepKind.Literal) {
      const literals = (node.literals ??= new Map());
      let next = literals.get(step.text);
      if (!next) {
        next = this.newNode(false);
        literals.set(step.text, next);
        const number = canonicalNumber(step.text);
        if (number !== undefined) (node.numbers ??= new Map()).set(number, next);
      }
      return next;
    }
    // Any, Capture, and (for a pattern compiled elsewhere) anything unreadable as a one-element wildcard.
    return (node.any ??= this.newNode(false));
  }

  private unlink(subscription: Subscription<S>): void {
    const root = this.roots.get(subscription.method);
    if (!root) return;
    const path: PathEdge<S>[] = [];
    let node: TrieNode<S> | null | undefined = root;
    for (const element of subscription.pattern.source) {
      const step = classifyElement(element);
      const kind = step.kind === 'invalid' ? StepKind.Any : step.kind;
      const text = step.kind === StepKind.Literal ? step.text : '';
      path.push({ parent: node, kind, text });
      node = kind === StepKind.Ellipsis ? node.ellipsis : kind === StepKind.Literal ? node.literals?.get(text) : node.any;
      if (!node) return;
    }
    const list = node.subscriptions;
    const at = list ? list.indexOf(subscription) : -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) node.subscriptions = null;

    // Unlink emptied nodes from the leaf up, then the root of the method if it emptied too.
    for (let index = path.length - 1; index >= 0 && node.isEmpty(); index--) {
      const { parent, kind, text } = path[index]!;
      if (kind === StepKind.Ellipsis) parent.ellipsis = null;
      else if (kind === StepKind.Literal) this.dropLiteral(parent, text);
      else parent.any = null;
      this.nodes--;
      node = parent;
    }
    if (node === root && root.isEmpty()) {
      this.roots.delete(subscription.method);
      this.nodes--;
    }
  }

  private dropLiteral(parent: TrieNode<S>, text: string): void {
    const literals = parent.literals!;
    literals.delete(text);
    if (literals.size === 0) parent.literals = null;
    const number = canonicalNumber(text);
    if (number !== undefined && parent.numbers) {
      parent.numbers.delete(number);
      if (parent.numbers.size === 0) parent.numbers = null;
    }
  }

  /**
   * Walks one method's trie with the resource; appends the subscriptions of every
   * pattern that matches and returns how many non-empty lists it appended.
   *
   * States are (node, index). The trie is a tree, so a state can only be reached
   * twice through different `...` lengths; an `...` node therefore remembers the
   * lowest index it was reached at in this walk and only expands indexes below it.
   * That bounds the walk by nodes × resource length, whatever the number of `...`.
   */
  private walk(root: TrieNode<S>, resource: readonly ResourceElement[], found: Subscription<S>[]): number {
    const length = resource.length;
    const walkId = ++this.walkId;
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

      if (index === length) {
        // An `...` node's list was taken when the node was first reached.
        if (!node.afterEllipsis && node.subscriptions) sources += this.take(node.subscriptions, found);
      } else {
        const element = resource[index]!;
        const next = typeof element === 'string' ? node.literals?.get(element) : node.numbers?.get(element);
        if (next) {
          nodes[top] = next;
          indexes[top++] = index + 1;
        }
        if (node.any) {
          nodes[top] = node.any;
          indexes[top++] = index + 1;
        }
      }

      const ellipsis = node.ellipsis;
      if (ellipsis) {
        let upTo: number;
        if (ellipsis.walk !== walkId) {
          ellipsis.walk = walkId;
          upTo = length + 1;
          // A pattern ending in `...` matches whatever is left.
          if (ellipsis.subscriptions) sources += this.take(ellipsis.subscriptions, found);
        } else {
          upTo = ellipsis.lowest;
        }
        if (index < upTo) {
          ellipsis.lowest = index;
          for (let at = index; at < upTo; at++) {
            nodes[top] = ellipsis;
            indexes[top++] = at;
          }
        }
      }
    }
    return sources;
  }

  private take(list: readonly Subscription<S>[], found: Subscription<S>[]): number {
    for (let index = 0; index < list.length; index++) found.push(list[index]!);
    return 1;
  }
}

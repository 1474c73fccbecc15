/**
 * Compact CBOR for one link (shared/JSTP.md, "Compact CBOR, version 2"): the codec of
 * cbor.ts with this link's resource aliases, one table per direction. Toward the peer,
 * aliases are used only once the peer has sent key 9; which resources get one is this
 * end's choice: every regular dispatch's resource worth it, the least recently used
 * alias given up when all 255 are taken. From the peer, every definition is kept.
 * On a lossy link, definitions are repeated (every 16 sends and 10 s) and a request
 * (a dispatch with a transaction) always carries its resource.
 */
import type { Dispatch } from '../dispatch.js';
import type { DispatchCodec, LinkCodec, LinkCodecOptions, LinkCodecStats } from './codec.js';
import { decodeWith, encodeAliased, layoutOf, MAX_ALIAS, type AliasTable } from './cbor.js';
import { CborScanner, DEFAULT_CBOR_LIMITS } from './cbor-scan.js';

/** On a lossy link, at most this many sends of an alias pass between two definitions of it. */
export const REDEFINE_EVERY_USES = 16;
/** ... and at most this long. */
export const REDEFINE_EVERY_MS = 10_000;
/** A resource this short gains nothing from an alias (a use costs 2 or 3 bytes). */
const MIN_ALIASED_CHARS = 3;

/** Whether a resource is long enough for an alias to pay: more than one element, or one of a few characters. */
function worthAliasing(resource: readonly unknown[]): boolean {
  if (resource.length !== 1) return resource.length > 1;
  const only = resource[0];
  return typeof only === 'string' ? only.length >= MIN_ALIASED_CHARS : typeof only === 'number' && Math.abs(only) >= 0x10000;
}
/** How many dispatches carry "I accept aliases" on a lossy link before this end stops saying it unasked. */
const LOSSY_OFFERS = 16;

/** One node of the trie of aliased resources, by element: lookups allocate nothing. */
interface Node {
  readonly parent: Node | undefined;
  readonly element: string | number | undefined;
  children: Map<string | number, Node> | undefined;
  /** The alias of the resource that ends here, or 0. */
  alias: number;
}

interface Entry {
  readonly node: Node;
  /** Sends since it was last defined. */
  sends: number;
  definedAt: number;
  lastUsed: number;
}

function newNode(parent: Node | undefined, element: string | number | undefined): Node {
  return { parent, element, children: undefined, alias: 0 };
}

/** The aliases this end gave the peer, and when each must be defined again. */
class AliasSender {
  private readonly root = newNode(undefined, undefined);
  private readonly entries: (Entry | undefined)[] = [];
  private used = 0;
  private tick = 0;
  /** Whether the alias `pick` returned last must be defined on this send. */
  defining = false;

  /**
   * The alias for `resource` (see `defining`, which `define` forces); 0 when the
   * resource cannot have one (an element neither text nor number).
   */
  pick(resource: readonly unknown[], lossy: boolean, now: number, define: boolean): number {
    let node = this.root;
    for (let i = 0; i < resource.length; i++) {
      const element = resource[i];
      if (typeof element !== 'string' && typeof element !== 'number') return 0;
      let next = node.children?.get(element);
      if (!next) {
        next = newNode(node, element);
        (node.children ??= new Map()).set(element, next);
      }
      node = next;
    }
    this.tick++;
    if (node.alias === 0) {
      this.give(node, now);
      this.defining = true;
      return node.alias;
    }
    const entry = this.entries[node.alias]!;
    entry.lastUsed = this.tick;
    entry.sends++;
    this.defining = define || (lossy && (entry.sends >= REDEFINE_EVERY_USES || now - entry.definedAt >= REDEFINE_EVERY_MS));
    if (this.defining) {
      entry.sends = 0;
      entry.definedAt = now;
    }
    return node.alias;
  }

  /** Gives `node` a free alias, or the least recently used one. */
  private give(node: Node, now: number): void {
    let alias: number;
    if (this.used < MAX_ALIAS) {
      alias = ++this.used;
    } else {
      alias = 1;
      for (let a = 2; a <= MAX_ALIAS; a++) if (this.entries[a]!.lastUsed < this.entries[alias]!.lastUsed) alias = a;
      this.forget(this.entries[alias]!.node);
    }
    node.alias = alias;
    this.entries[alias] = { node, sends: 0, definedAt: now, lastUsed: this.tick };
  }

  /** Takes the alias off `node` and prunes the branch nothing else needs. */
  private forget(node: Node): void {
    node.alias = 0;
    let current: Node | undefined = node;
    while (current?.parent && current.alias === 0 && (current.children?.size ?? 0) === 0) {
      current.parent.children!.delete(current.element!);
      current = current.parent;
    }
  }
}

class CborLink implements LinkCodec, AliasTable {
  private readonly lossy: boolean;
  private readonly offers: boolean;
  private readonly now: () => number;
  private readonly maxBytes: number;
  private readonly scanner: CborScanner;
  private sender: AliasSender | undefined;
  /** What the peer defined, by alias (index 0 unused). */
  private received: (unknown[] | undefined)[] | undefined;
  private peerAccepts = false;
  /** This end still has to tell the peer it accepts aliases. */
  private offerPending: boolean;
  private offersSent = 0;
  private readonly counts = { definitionsSent: 0, usesSent: 0, definitionsReceived: 0, usesReceived: 0, unknownAliases: 0 };

  constructor(options: LinkCodecOptions = {}) {
    this.lossy = options.lossy ?? false;
    this.offers = options.offerAliases ?? false;
    this.offerPending = this.offers;
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxBytes ?? DEFAULT_CBOR_LIMITS.maxBytes;
    this.scanner = new CborScanner(options.maxBytes === undefined ? DEFAULT_CBOR_LIMITS : { ...DEFAULT_CBOR_LIMITS, maxBytes: this.maxBytes, maxStringBytes: this.maxBytes });
  }

  encode(dispatch: Dispatch): Uint8Array {
    if (!this.peerAccepts) return this.offerPending ? this.offer(dispatch) : layoutOf(dispatch).bytes;
    const resource = dispatch.resource;
    if (dispatch.method === 'ANSWER' || !Array.isArray(resource) || !worthAliasing(resource)) {
      return this.offerPending ? this.offer(dispatch) : layoutOf(dispatch).bytes;
    }
    const sender = (this.sender ??= new AliasSender());
    // On a lossy link a request stays whole: a lost definition must not fail a caller,
    // only delay the reports that follow it (they heal within 16 uses).
    const whole = this.lossy && dispatch.token !== undefined && dispatch.token.length > 0;
    const alias = sender.pick(resource, this.lossy, this.lossy ? this.now() : 0, whole);
    if (alias === 0) return this.offerPending ? this.offer(dispatch) : layoutOf(dispatch).bytes;
    const define = sender.defining;
    if (define) this.counts.definitionsSent++;
    else this.counts.usesSent++;
    this.saidKey9();
    return encodeAliased(dispatch, alias, define);
  }

  decode(bytes: Uint8Array): unknown {
    try {
      return decodeWith(this.scanner, this.maxBytes, bytes, this);
    } catch (error) {
      if ((error as { reason?: string }).reason === 'unknown-alias') this.counts.unknownAliases++;
      throw error;
    }
  }

  reset(): void {
    this.sender = undefined;
    this.received = undefined;
    this.peerAccepts = false;
    this.offerPending = this.offers;
    this.offersSent = 0;
  }

  stats(): LinkCodecStats {
    return { peerAccepts: this.peerAccepts, ...this.counts };
  }

  // ---- AliasTable: what the decoder tells of the peer ---------------------------------

  heard(alias: number): void {
    if (!this.peerAccepts) {
      this.peerAccepts = true;
      // Now this end says it accepts aliases too, whether or not it offered unasked.
      if (this.offersSent === 0) this.offerPending = true;
    }
    // The peer aliases toward this end: it heard this end's key 9.
    if (alias > 0) this.offerPending = false;
  }

  define(alias: number, resource: unknown): void {
    this.counts.definitionsReceived++;
    if (!Array.isArray(resource)) return; // validation refuses the dispatch; nothing worth keeping
    (this.received ??= [])[alias] = resource.slice();
  }

  resolve(alias: number): unknown[] | undefined {
    const resource = this.received?.[alias];
    if (!resource) return undefined;
    this.counts.usesReceived++;
    return resource.slice();
  }

  // ---- offers ---------------------------------------------------------------------

  private offer(dispatch: Dispatch): Uint8Array {
    this.saidKey9();
    return encodeAliased(dispatch, 0, true);
  }

  /** A dispatch with key 9 is on its way: on a reliable link one is enough for the peer to know. */
  private saidKey9(): void {
    if (!this.offerPending) return;
    this.offersSent++;
    if (!this.lossy || this.offersSent >= LOSSY_OFFERS) this.offerPending = false;
  }
}

/** Opens the compact CBOR codec of one link. */
export function openLink(options?: LinkCodecOptions): LinkCodec {
  return new CborLink(options);
}

/** The compact CBOR codec behind the DispatchCodec interface. */
export const cborCodec: DispatchCodec = { openLink };

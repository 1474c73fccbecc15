/**
 * The receiving side of uplinks, which every Pasarela gateway installs:
 *
 * - a stage that drops a dispatch whose id (`"id": [sender, boot, seq]`, see
 *   dispatch-id.ts) it has already let through, so an uplink's at-least-once
 *   delivery looks like exactly once. An uplink sends its queue in order, and its
 *   ids grow along the queue (boots grow, and sequences within a boot), so the
 *   highest id seen of a sender is all there is to remember: one at or below it is a
 *   resend, even one from many boots ago (a gateway that restarted often while its
 *   link was down replays entries of many boots). Memory is bounded: the most
 *   recently heard senders, one id each.
 * - the receipt resource `GET ["gateway", "received", sender]`, answered 200
 *   `{ "boot": b, "seq": n }`: the highest id of that sender this engine took in
 *   (zeros for none). An uplink asks it after sending; since a channel's dispatches
 *   pass the pipeline in order, the answer comes after every dispatch sent before the
 *   question was processed, and the uplink deletes what it covers.
 *
 * Only dispatches without a transaction are deduplicated (a request needs its answer).
 */
import type { Engine, Stage } from '../jstp/engine.js';
import type { GatewayPlugin } from '../plugin.js';
import { idOf, type DispatchId } from './dispatch-id.js';

export interface DedupOptions {
  /** Senders remembered at most; the one heard from least recently goes first (default 4096). */
  readonly maxSenders?: number;
}

export interface DedupStats {
  readonly senders: number;
  readonly passed: number;
  readonly duplicates: number;
}

/** The highest id taken in from a sender. */
export interface Highest {
  readonly boot: number;
  readonly seq: number;
}

const NOTHING: Highest = { boot: 0, seq: 0 };

export class DedupMemory {
  private readonly maxSenders: number;
  /** sender -> highest id; Map order is recency of use. */
  private readonly senders = new Map<string, Highest>();
  private passed = 0;
  private duplicates = 0;

  constructor(options: DedupOptions = {}) {
    this.maxSenders = options.maxSenders ?? 4096;
  }

  /** True (and remembered) when the id is past the sender's highest; false for a resend. */
  admit(id: DispatchId): boolean {
    const [sender, boot, seq] = id;
    const highest = this.senders.get(sender);
    if (highest) {
      this.senders.delete(sender);
    } else if (this.senders.size >= this.maxSenders) {
      this.senders.delete(this.senders.keys().next().value!);
    }
    if (highest && (boot < highest.boot || (boot === highest.boot && seq <= highest.seq))) {
      this.senders.set(sender, highest);
      this.duplicates++;
      return false;
    }
    this.senders.set(sender, { boot, seq });
    this.passed++;
    return true;
  }

  /** The highest id taken in from a sender; zeros when none. */
  highest(sender: string): Highest {
    return this.senders.get(sender) ?? NOTHING;
  }

  stats(): DedupStats {
    return { senders: this.senders.size, passed: this.passed, duplicates: this.duplicates };
  }
}

/** The inbound stage: resends from channels are dropped, everything else passes untouched. */
export function dedupStage(memory: DedupMemory): Stage {
  return {
    name: 'dedup',
    inbound(dispatch, from) {
      if (!from || dispatch.token !== undefined) return dispatch;
      const id = idOf(dispatch);
      if (!id || memory.admit(id)) return dispatch;
      return { drop: `duplicate of ${id.join('/')}` };
    },
  };
}

/** Binds the receipt resource on an engine; returns the function that unbinds it. */
export function bindReceipts(engine: Engine, memory: DedupMemory): () => void {
  return engine.bind({ method: 'GET', resource: ['gateway', 'received', ':sender'] }, (incoming) => memory.highest(String(incoming.params.sender)));
}

/** The stage and the receipts, as a gateway plugin. */
export function dedupPlugin(options: DedupOptions = {}): GatewayPlugin {
  return {
    name: 'dedup',
    async start({ engine }) {
      const memory = new DedupMemory(options);
      const unuse = engine.use(dedupStage(memory));
      const unbind = bindReceipts(engine, memory);
      return () => {
        unbind();
        unuse();
      };
    },
  };
}

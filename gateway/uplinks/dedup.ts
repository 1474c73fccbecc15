/**
 * The receiving side of uplinks, which every Pasarela gateway installs:
 *
 * - a stage that drops a dispatch whose id (`"id": [sender, boot, seq]`, see
 *   dispatch-id.ts) it has already let through, so an uplink's at-least-once
 *   delivery looks like exactly once. An uplink sends its queue in order, so per
 *   sender and boot the highest sequence seen is all there is to remember: a lower or
 *   equal one is a resend. Memory is bounded: the most recent boots of each sender,
 *   the most recently heard senders.
 * - the receipt resource `GET ["gateway", "received", sender, boot]`, answered 200
 *   `{ "seq": n }`: the highest sequence of that sender's boot this engine took in
 *   (0 for none). An uplink asks it after sending; since a channel's dispatches pass
 *   the pipeline in order, the answer comes after every dispatch sent before the
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
  /** Boots remembered per sender, the latest ones (default 4). */
  readonly maxBoots?: number;
}

export interface DedupStats {
  readonly senders: number;
  readonly passed: number;
  readonly duplicates: number;
}

export class DedupMemory {
  private readonly maxSenders: number;
  private readonly maxBoots: number;
  /** sender -> boot -> highest sequence; Map order is recency of use. */
  private readonly senders = new Map<string, Map<number, number>>();
  private passed = 0;
  private duplicates = 0;

  constructor(options: DedupOptions = {}) {
    this.maxSenders = options.maxSenders ?? 4096;
    this.maxBoots = options.maxBoots ?? 4;
  }

  /** True (and remembered) when the id is new; false for a resend. */
  admit(id: DispatchId): boolean {
    const [sender, boot, seq] = id;
    let boots = this.senders.get(sender);
    if (boots) {
      this.senders.delete(sender);
    } else {
      boots = new Map();
      if (this.senders.size >= this.maxSenders) this.senders.delete(this.senders.keys().next().value!);
    }
    this.senders.set(sender, boots);
    const highest = boots.get(boot);
    if (highest !== undefined && seq <= highest) {
      this.duplicates++;
      return false;
    }
    if (highest === undefined && boots.size >= this.maxBoots) {
      const oldest = Math.min(...boots.keys());
      // Older than every boot remembered: let it through (a duplicate is better than a loss).
      if (boot < oldest) {
        this.passed++;
        return true;
      }
      boots.delete(oldest);
    }
    boots.set(boot, seq);
    this.passed++;
    return true;
  }

  /** The highest sequence taken in for a sender's boot; 0 when none. */
  highest(sender: string, boot: number): number {
    return this.senders.get(sender)?.get(boot) ?? 0;
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
  return engine.bind({ method: 'GET', resource: ['gateway', 'received', ':sender', ':boot'] }, (incoming) => ({
    seq: memory.highest(String(incoming.params.sender), Number(incoming.params.boot)),
  }));
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

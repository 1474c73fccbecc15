/**
 * Transactions forwarded over one outbound connection whose answer set has not
 * come back yet. The engine's Forwarder resolves once a dispatch is sent, so when
 * that connection drops the engine would only notice at the answer timeout (504);
 * feeding it a 502 answer for each transaction still out ends them at once.
 * Pure and browser-safe: used by the client and by the forwarding pool.
 */
import type { Channel } from './jstp/channel.js';
import { createAnswer, IMPLEMENTATION_TAG, PROTOCOL_VERSION, type Dispatch } from './jstp/dispatch.js';
import type { Engine } from './jstp/engine.js';
import { Status } from './jstp/errors.js';

export class InFlight {
  /** Transaction id -> when it was sent; insertion order = age order. */
  private readonly sentAt = new Map<string, number>();

  /**
   * @param maxAgeMs entries older than this are forgotten (the engine has timed them
   *   out by then, and a late 502 would only reach ANSWER observers)
   */
  constructor(
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sentAt.size;
  }

  /** Records a dispatch just written to the connection. */
  sent(dispatch: Dispatch): void {
    const transactionId = dispatch.token?.[0];
    if (transactionId === undefined || dispatch.method === 'ANSWER') return;
    const now = this.now();
    this.prune(now);
    this.sentAt.delete(transactionId);
    this.sentAt.set(transactionId, now);
  }

  /**
   * Looks at a raw dispatch that came back on the connection (before the engine
   * does): a Pasarela peer closes its answer set with 101, other engines answer once.
   */
  observe(raw: unknown): void {
    if (this.sentAt.size === 0 || typeof raw !== 'object' || raw === null) return;
    const headers = raw as Record<string, unknown>;
    if (typeof headers.method !== 'string' || headers.method.toUpperCase() !== 'ANSWER') return;
    const resource = headers.resource;
    if (!Array.isArray(resource) || typeof resource[1] !== 'string') return;
    const protocol = headers.protocol;
    const fromPasarela = Array.isArray(protocol) && protocol[2] === IMPLEMENTATION_TAG;
    if (!fromPasarela || resource[0] === Status.NoMoreAnswers) this.sentAt.delete(resource[1]);
  }

  /**
   * Ends every transaction still out with a 502 answer, as if it came over
   * `channel`. Call it before `engine.detach(channel)`.
   */
  fail(engine: Engine, channel: Channel, reason: string): number {
    this.prune(this.now());
    const ids = [...this.sentAt.keys()];
    this.sentAt.clear();
    for (const transactionId of ids) {
      const answer = createAnswer(Status.UnreachableHost, transactionId, globalThis.crypto.randomUUID(), { reason });
      // Without the Pasarela tag the engine takes this single answer as the whole set.
      answer.protocol = ['JSTP', PROTOCOL_VERSION];
      engine.dispatch(answer, channel);
    }
    return ids.length;
  }

  clear(): void {
    this.sentAt.clear();
  }

  private prune(now: number): void {
    for (const [id, at] of this.sentAt) {
      if (now - at <= this.maxAgeMs) break;
      this.sentAt.delete(id);
    }
  }
}

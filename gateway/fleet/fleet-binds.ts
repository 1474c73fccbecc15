/**
 * The NATS subscriptions behind fleet BINDs: a BIND on `["fleet", ...]` from any
 * channel subscribes the subjects its pattern maps to, counted, so each subject is
 * subscribed once however many bind it, and unsubscribed when the last RELEASE (or
 * the last binder's channel closing) lets it go. Nothing is subscribed that nobody
 * on this gateway listens for, so no event reaches it in vain.
 *
 * An event whose subject two held subjects take arrives once through each: it is
 * taken from the first of them (`takes`) only, so it is delivered once, with nothing
 * on the wire to tell the copies apart.
 */
import type { Channel } from '../jstp/channel.js';
import type { Endpoint } from '../jstp/dispatch.js';
import { subjectMatches, subjectsForPattern } from './subjects.js';

/** Subscribes a subject; returns the function that unsubscribes it. */
export type Subscribe = (subject: string) => () => void;

/** `undefined` stands for the gateway's own (local) binds. */
type Binder = Channel | undefined;

export class FleetBinds {
  private readonly subjects = new Map<string, { count: number; unsubscribe: () => void }>();
  private readonly byBinder = new Map<Binder, Map<string, string[]>>();

  constructor(private readonly subscribe: Subscribe) {}

  bind(binder: Binder, endpoint: Endpoint): void {
    const key = endpointKey(endpoint);
    let binds = this.byBinder.get(binder);
    if (binds?.has(key)) return;
    const subjects = subjectsForPattern(endpoint.method, endpoint.resource);
    if (subjects.length === 0) return;
    if (!binds) {
      binds = new Map();
      this.byBinder.set(binder, binds);
    }
    binds.set(key, subjects);
    for (const subject of subjects) {
      const held = this.subjects.get(subject);
      if (held) held.count++;
      else this.subjects.set(subject, { count: 1, unsubscribe: this.subscribe(subject) });
    }
  }

  release(binder: Binder, endpoint: Endpoint): void {
    const binds = this.byBinder.get(binder);
    const key = endpointKey(endpoint);
    const subjects = binds?.get(key);
    if (!binds || !subjects) return;
    binds.delete(key);
    if (binds.size === 0) this.byBinder.delete(binder);
    this.drop(subjects);
  }

  /** A channel closed: everything it bound goes. */
  releaseAll(binder: Binder): void {
    const binds = this.byBinder.get(binder);
    if (!binds) return;
    this.byBinder.delete(binder);
    for (const subjects of binds.values()) this.drop(subjects);
  }

  /** Whether an event that arrived through the subscription of `held` is the one copy to take. */
  takes(held: string, subject: string): boolean {
    // The usual case: one subscription, one copy.
    if (this.subjects.size === 1) return true;
    for (const candidate of this.subjects.keys()) {
      if (subjectMatches(candidate, subject)) return candidate === held;
    }
    return false;
  }

  /** The subjects subscribed now (for tests and GET ["fleet"]). */
  get subscribed(): string[] {
    return [...this.subjects.keys()].sort();
  }

  close(): void {
    for (const { unsubscribe } of this.subjects.values()) unsubscribe();
    this.subjects.clear();
    this.byBinder.clear();
  }

  private drop(subjects: readonly string[]): void {
    for (const subject of subjects) {
      const held = this.subjects.get(subject);
      if (!held) continue;
      if (--held.count > 0) continue;
      this.subjects.delete(subject);
      held.unsubscribe();
    }
  }
}

function endpointKey(endpoint: Endpoint): string {
  return `${endpoint.method} ${JSON.stringify(endpoint.resource)}`;
}

/**
 * Commands waiting for the device to confirm them: a write waits until the device
 * reports the written value, an action until its `confirm` property is reported.
 * Each waiter ends on its confirmation, its deadline's abort, or a lost connection.
 */
interface Waiter {
  readonly key: string;
  readonly property: string;
  /** Only this value confirms; undefined: the next report on a reply topic does. */
  readonly expected: { value: unknown } | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));
}

export class Confirmations {
  private readonly waiting = new Map<string, Set<Waiter>>();

  get size(): number {
    let size = 0;
    for (const set of this.waiting.values()) size += set.size;
    return size;
  }

  /** Registers a waiter before the command is sent, so a fast reply cannot be missed. */
  wait(key: string, property: string, expected: { value: unknown } | undefined, signal: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let set = this.waiting.get(key);
      if (!set) this.waiting.set(key, (set = new Set()));
      const onAbort = () => settle(() => reject(signal.reason));
      const settle = (finish: () => void) => {
        set.delete(waiter);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        signal.removeEventListener('abort', onAbort);
        finish();
      };
      const waiter: Waiter = {
        key,
        property,
        expected,
        resolve: (value) => settle(() => resolve(value)),
        reject: (error) => settle(() => reject(error)),
      };
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      set.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A device reported a value (`reply`: on a topic that answers commands): confirms the waiters it satisfies. */
  reported(key: string, property: string, value: unknown, reply = true): void {
    const set = this.waiting.get(key);
    if (!set) return;
    for (const waiter of [...set]) {
      if (waiter.property !== property) continue;
      if (waiter.expected ? sameValue(waiter.expected.value, value) : reply) waiter.resolve(value);
    }
  }

  /** Fails the waiters of one device (or all). */
  fail(error: unknown, key?: string): void {
    const sets = key === undefined ? [...this.waiting.values()] : [this.waiting.get(key)];
    for (const set of sets) {
      for (const waiter of [...(set ?? [])]) waiter.reject(error);
    }
  }
}

/**
 * Bounds on input that has arrived but is not a whole dispatch yet: how long a peer
 * may take to finish a line (or CBOR item, or WebSocket message) it started, and how
 * many such bytes all connections together may hold. Without them a thousand peers
 * each sending most of a maximal line and then nothing would hold a gigabyte.
 */

/** Why a connection's unfinished input was refused: the limit's config name and a reason. */
export type PendingInputFault = (limit: 'lineTimeoutMs' | 'maxPendingInputBytes', reason: string) => void;

/** The total of unfinished input over all connections. Over the limit, the biggest holder goes. */
export class InputBudget {
  private total = 0;
  private readonly holders = new Set<PendingInput>();

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.total;
  }

  /** @internal */
  change(holder: PendingInput, delta: number): void {
    this.total += delta;
    if (holder.bytes > 0) this.holders.add(holder);
    else this.holders.delete(holder);
    if (delta <= 0 || this.total <= this.maxBytes) return;
    // The peer holding most is the one to drop, whoever sent the last byte.
    let biggest = holder;
    for (const each of this.holders) if (each.bytes > biggest.bytes) biggest = each;
    biggest.exceed('maxPendingInputBytes', `unfinished input of all connections over ${this.maxBytes} bytes; this one held ${biggest.bytes}`);
  }
}

export interface PendingInputOptions {
  /** Shared with the other connections; omitted: no total. */
  budget?: InputBudget;
  /** How long a started dispatch may take to arrive whole; omitted or 0: no limit. */
  timeoutMs?: number;
  onFault: PendingInputFault;
}

/** One connection's unfinished input: call `update` with the decoder's buffered bytes after each chunk. */
export class PendingInput {
  private held = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private faulted = false;
  private readonly budget: InputBudget | undefined;
  private readonly timeoutMs: number;
  private readonly onFault: PendingInputFault;

  constructor(options: PendingInputOptions) {
    this.budget = options.budget;
    this.timeoutMs = options.timeoutMs ?? 0;
    this.onFault = options.onFault;
  }

  get bytes(): number {
    return this.held;
  }

  update(bytes: number): void {
    if (this.faulted) return;
    const delta = bytes - this.held;
    this.held = bytes;
    if (bytes === 0) this.stopTimer();
    else if (this.timer === undefined && this.timeoutMs > 0) {
      // Started now: it has this long to finish, however it trickles in.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.exceed('lineTimeoutMs', `a dispatch started ${this.timeoutMs} ms ago is still unfinished (${this.held} bytes)`);
      }, this.timeoutMs);
      this.timer.unref?.();
    }
    if (delta !== 0) this.budget?.change(this, delta);
  }

  /** The connection closed: its bytes leave the budget. */
  close(): void {
    this.stopTimer();
    this.faulted = true;
    if (this.held !== 0) {
      const held = this.held;
      this.held = 0;
      this.budget?.change(this, -held);
    }
  }

  /** @internal */
  exceed(limit: 'lineTimeoutMs' | 'maxPendingInputBytes', reason: string): void {
    if (this.faulted) return;
    this.close();
    this.onFault(limit, reason);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

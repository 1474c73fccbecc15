/**
 * Connections in total and per remote address, shared by every server transport of a
 * gateway (TCP and WebSocket count against the same totals). A peer over a limit is
 * refused before anything is read from it; the connections already open keep being
 * served.
 */
import type { LimitReporter } from './limit-reporter.js';

export interface ConnectionGateOptions {
  /** Open connections at most, all addresses together (default: no limit). */
  maxConnections?: number;
  /** Open connections at most from one remote address (default: no limit). */
  maxConnectionsPerAddress?: number;
  report?: LimitReporter;
}

export class ConnectionGate {
  private readonly maxTotal: number;
  private readonly maxPerAddress: number;
  private readonly report: LimitReporter | undefined;
  private readonly byAddress = new Map<string, number>();
  private total = 0;
  private refusedCount = 0;

  constructor(options: ConnectionGateOptions = {}) {
    this.maxTotal = options.maxConnections ?? Infinity;
    this.maxPerAddress = options.maxConnectionsPerAddress ?? Infinity;
    this.report = options.report;
  }

  /** Counts a new connection from `address`, or refuses it (false, reported). */
  admit(address: string): boolean {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (this.total >= this.maxTotal) return this.refuse('maxConnections', address, this.maxTotal);
    if (fromAddress >= this.maxPerAddress) return this.refuse('maxConnectionsPerAddress', address, this.maxPerAddress);
    this.total++;
    this.byAddress.set(address, fromAddress + 1);
    return true;
  }

  /** A connection `admit` counted has closed. */
  leave(address: string): void {
    const fromAddress = this.byAddress.get(address);
    if (fromAddress === undefined) return;
    this.total--;
    if (fromAddress <= 1) this.byAddress.delete(address);
    else this.byAddress.set(address, fromAddress - 1);
  }

  get open(): number {
    return this.total;
  }

  /** Connections refused so far. */
  get refused(): number {
    return this.refusedCount;
  }

  private refuse(limit: string, address: string, max: number): false {
    this.refusedCount++;
    this.report?.exceeded(limit, address, { max, open: this.total });
    return false;
  }
}

/**
 * Standby devices: a device two gateways can reach is configured on both, with
 * `standby: true` on one. This gate (a DeviceGate of the driver host) lets the
 * drivers run it only where its lease (lease.ts) is held, so exactly one gateway runs
 * it at a time, under the same id.
 *
 * The standby's entry is held back from the start and runs once its lease is taken
 * (the preferred gateway died, or never came). The preferred gateway learns that its
 * device is shared from the standby's key in the bucket: it reads those of its
 * devices as it starts (waiting a moment for the cluster), and watches for them
 * later. From then on that device, too, runs only under the lease: it keeps running
 * until the first try has said whose the lease is, then follows the lease. Until the
 * preferred gateway has learnt it (a slow cluster), its heartbeats show the device
 * running without a lease, and the standby takes none.
 */
import type { KV } from '@nats-io/kv';
import type { DeviceConfig } from '../../drivers/driver.js';
import type { DeviceGate } from '../driver-host/device-gate.js';
import type { Logger } from '../jstp/logger.js';
import { deviceOfStandbyKey, Lease, STANDBY_KEYS, standbyKeyOf } from './lease.js';

/** How one device's lease stands here, for heartbeats and GET ["fleet"]. */
export interface LeaseState {
  device: string;
  /** This gateway runs the device now. */
  holding: boolean;
  /** Configured here with `standby: true`. */
  standby: boolean;
}

export interface StandbyOptions {
  /** The gateway's config entries. */
  devices: readonly DeviceConfig[];
  /** This gateway's name in the fleet. */
  name: string;
  ttlMs: number;
  logger: Logger;
  /** The lease bucket, once the cluster is reachable (made if need be). */
  bucket(): Promise<KV>;
  /** The lease bucket if it exists, once the cluster is reachable. */
  existing(): Promise<KV | undefined>;
  /** Whether another gateway of the fleet runs the device without holding its lease (from its heartbeats). */
  runsUnleased(device: string): boolean;
}

/** How long a start waits to read whether its devices have standbys elsewhere. */
const STARTUP_READ_MS = 2_000;

export function isStandby(device: DeviceConfig): boolean {
  return device.standby === true;
}

export class StandbyDevices implements DeviceGate {
  private readonly leases = new Map<string, Lease>();
  /** Devices leased since this gateway found a standby of theirs, whose first try is not done. */
  private readonly unsettled = new Set<string>();
  private readonly listeners = new Set<() => void>();
  /** Devices configured here without `standby`: a standby elsewhere makes them leased. */
  private readonly own = new Set<string>();
  private stopped = false;
  /** Until start() returns, the drivers have not started: a device found shared then never runs unleased. */
  private beforeDrivers = true;
  private watching: { stop(): void } | undefined;
  private rewatch: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: StandbyOptions) {
    for (const device of options.devices) {
      if (isStandby(device)) this.lease(device.id, false);
      else this.own.add(device.id);
    }
  }

  admits(device: DeviceConfig): boolean {
    const lease = this.leases.get(device.id);
    return !lease || lease.holding || this.unsettled.has(device.id);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every leased device, and whether this gateway runs it. */
  list(): LeaseState[] {
    return [...this.leases.values()].map((lease) => ({ device: lease.device, holding: lease.holding, standby: !lease.preferred }));
  }

  /**
   * Starts the leases, and reads (for a short while at most) which of this gateway's
   * own devices have a standby elsewhere, so that none of those starts beside the
   * gateway that holds it. Resolves when done or given up; never rejects.
   */
  async start(): Promise<void> {
    for (const lease of this.leases.values()) lease.start();
    if (this.own.size === 0) return;
    void this.watch();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STARTUP_READ_MS);
    });
    const read = (async () => {
      const kv = await this.options.existing();
      // No bucket: no gateway was ever standby in this fleet.
      if (!kv) return;
      await Promise.all([...this.own].map(async (device) => {
        const entry = await kv.get(standbyKeyOf(device));
        // Known before its driver starts: no need to run it until the lease says so.
        if (entry?.operation === 'PUT' && entry.string() !== this.options.name) this.found(device);
      }));
    })().catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not read the standbys of this gateway\'s devices'));
    await Promise.race([read, late]);
    clearTimeout(timer);
    this.beforeDrivers = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rewatch);
    this.watching?.stop();
    await Promise.all([...this.leases.values()].map((lease) => lease.stop()));
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    try {
      const kv = await this.options.existing();
      if (this.stopped || !kv) throw new Error('no lease bucket yet');
      const entries = await kv.watch({ key: STANDBY_KEYS, ignoreDeletes: true });
      this.watching = entries;
      for await (const entry of entries) {
        const device = deviceOfStandbyKey(entry.key);
        if (device !== undefined && this.own.has(device) && entry.string() !== this.options.name) this.found(device);
        // Every device of this gateway is leased: nothing more to learn.
        if (this.allLeased()) entries.stop();
      }
    } catch (error) {
      this.options.logger.debug({ err: error }, 'standby watch ended');
    }
    if (!this.stopped && !this.allLeased()) {
      // Soon enough to lease a device before a standby that just appeared waits out its ttl.
      this.rewatch = setTimeout(() => void this.watch(), this.options.ttlMs / 4);
      this.rewatch.unref?.();
    }
  }

  private allLeased(): boolean {
    for (const device of this.own) if (!this.leases.has(device)) return false;
    return true;
  }

  /** A standby of one of this gateway's devices: from now on it runs under the lease. */
  private found(device: string): void {
    if (this.leases.has(device) || this.stopped) return;
    this.options.logger.info({ device }, 'a gateway of the fleet is standby for this device: it runs under a lease');
    const lease = this.lease(device, true);
    if (!this.beforeDrivers) {
      // Running already: it goes on until the lease's first try says whose it is.
      this.unsettled.add(device);
      void lease.settled.then(() => {
        this.unsettled.delete(device);
        this.changed();
      });
    }
    lease.start();
    this.changed();
  }

  private lease(device: string, preferred: boolean): Lease {
    const lease = new Lease({
      device,
      holder: this.options.name,
      ttlMs: this.options.ttlMs,
      preferred,
      logger: this.options.logger,
      bucket: () => this.options.bucket(),
      onChange: () => this.changed(),
      ...(preferred ? {} : { mayTake: () => !this.options.runsUnleased(device) }),
    });
    this.leases.set(device, lease);
    return lease;
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.options.logger.error({ err: error }, 'standby listener failed');
      }
    }
  }
}

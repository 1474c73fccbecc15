/**
 * Which gateway runs a device that two of them can reach: a lease in the cluster's
 * key-value bucket (`pasarela-leases`, JetStream, entries expire `ttl` after their
 * last write). The holder renews every ttl/3. A gateway that cannot renew lets go
 * when its lease would have expired, so two are never active at once, even when the
 * holder is cut off from the cluster (the device is then offline until one of them
 * holds the lease again: at most one, rather than at least one).
 *
 * The gateway configured without `standby` is preferred: the standby waits one ttl
 * from when it first said it is standby (below) before it tries, and when the
 * preferred one finds the standby holding the lease it asks for it back (a
 * `handover` key); the standby lets go on its next renewal and the preferred one
 * takes it on its next try (the standby takes none while the request stands).
 * Nobody ever runs the device beside its holder.
 *
 * A standby says so on every try, holding or not (a `standby` key): that is how the
 * gateway configured without `standby` learns that its device is shared and must be
 * leased (standby.ts).
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from '../jstp/logger.js';

const BUCKET = 'pasarela-leases';
const encoder = new TextEncoder();

/** A device id as key-value key characters (`[-_A-Za-z0-9]`, then the dots of the scheme). */
function keyOf(device: string): string {
  return `device.${Buffer.from(device, 'utf8').toString('base64url') || '-'}`;
}

/** The key a standby of `device` renews. */
export function standbyKeyOf(device: string): string {
  return `${keyOf(device)}.standby`;
}

/** Every standby key, as a watch filter. */
export const STANDBY_KEYS = 'device.*.standby';

/** The device a standby key is for; undefined for any other key. */
export function deviceOfStandbyKey(key: string): string | undefined {
  const match = /^device\.([-_A-Za-z0-9]+)\.standby$/.exec(key);
  if (!match) return undefined;
  return match[1] === '-' ? '' : Buffer.from(match[1]!, 'base64url').toString('utf8');
}

/** Opens (or creates) the lease bucket; three replicas where the cluster has three nodes. */
export async function openLeases(connection: import('@nats-io/transport-node').NatsConnection, ttlMs: number): Promise<KV> {
  const { Kvm } = await import('@nats-io/kv');
  const kvm = new Kvm(connection);
  try {
    return await kvm.create(BUCKET, { ttl: ttlMs, history: 1, replicas: 3 });
  } catch {
    // A cluster of one or two nodes (or a bucket made with other settings): take it as it is.
    return kvm.create(BUCKET, { ttl: ttlMs, history: 1 });
  }
}

/**
 * The lease bucket if a gateway made it (a standby does at its first try), without
 * making it: a gateway with no standby anywhere reads nothing and creates nothing.
 */
export async function existingLeases(connection: import('@nats-io/transport-node').NatsConnection): Promise<KV | undefined> {
  const [{ jetstreamManager, JetStreamApiCodes, JetStreamApiError }, { Kvm }] = await Promise.all([import('@nats-io/jetstream'), import('@nats-io/kv')]);
  const manager = await jetstreamManager(connection);
  try {
    await manager.streams.info(`KV_${BUCKET}`);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw error;
  }
  return new Kvm(connection).open(BUCKET);
}

export interface LeaseOptions {
  device: string;
  /** This gateway's name, written as the holder. */
  holder: string;
  ttlMs: number;
  /** The gateway configured without `standby`. */
  preferred: boolean;
  logger: Logger;
  /** Called when this gateway starts or stops holding the lease. */
  onChange(active: boolean): void;
  /** The bucket, once the cluster is reachable. */
  bucket(): Promise<KV>;
  /**
   * Whether a free lease may be taken now (default: yes). A standby is told no while
   * another gateway runs the device without a lease (it has not yet learnt that it
   * has a standby).
   */
  mayTake?(): boolean;
}

export class Lease {
  private active = false;
  private revision = 0;
  /** When the lease this gateway holds expires unless renewed (its own clock). */
  private expiresAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The try in flight (it never rejects). */
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly key: string;
  private readonly handoverKey: string;
  private readonly standbyKey: string;
  /** When this standby first said so in the bucket. */
  private announcedAt: number | undefined;
  private markSettled: () => void = () => undefined;
  /** Resolves once the first try reached the cluster, or failed: whether the lease is ours is known. */
  readonly settled = new Promise<void>((resolve) => {
    this.markSettled = resolve;
  });

  constructor(private readonly options: LeaseOptions) {
    this.key = keyOf(options.device);
    this.handoverKey = `${this.key}.handover`;
    this.standbyKey = standbyKeyOf(options.device);
  }

  get holding(): boolean {
    return this.active;
  }

  get device(): string {
    return this.options.device;
  }

  get preferred(): boolean {
    return this.options.preferred;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops trying; a held lease is given up at once (deleted), so a standby takes over now. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A try in flight may still take the lease: it is given back with the rest.
    await this.ticking;
    if (!this.active) return;
    this.setActive(false);
    try {
      const kv = await this.options.bucket();
      await kv.delete(this.key);
    } catch (error) {
      this.options.logger.debug({ device: this.options.device, err: error }, 'lease not given back: it will expire');
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick();
    }, delayMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    const period = Math.max(100, Math.floor(this.options.ttlMs / 3));
    try {
      await this.step();
    } catch (error) {
      this.options.logger.debug({ device: this.options.device, err: error }, 'lease step failed');
    }
    this.markSettled();
    // Cut off from the cluster: let go before the lease could have passed to another.
    if (this.active && Date.now() >= this.expiresAt - period / 2) {
      this.options.logger.warn({ device: this.options.device }, 'lease not renewed in time: device stopped here');
      this.setActive(false);
    }
    this.schedule(period);
  }

  private async step(): Promise<void> {
    const { holder, preferred, ttlMs } = this.options;
    const kv = await this.options.bucket();
    if (!preferred) {
      await kv.put(this.standbyKey, encoder.encode(holder));
      this.announcedAt ??= Date.now();
    }
    // A standby gives the preferred gateway one ttl from when it said it is standby to take the lease first.
    if (!preferred && !this.active && Date.now() - this.announcedAt! < ttlMs) return;
    const attempted = Date.now();
    const handover = preferred ? undefined : (await kv.get(this.handoverKey))?.string();
    if (this.active) {
      if (handover) {
        this.options.logger.info({ device: this.options.device, to: handover }, 'the preferred gateway asks for the device: handing over');
        this.setActive(false);
        // The request stays until the preferred gateway has the lease (or it expires).
        await kv.delete(this.key);
        return;
      }
      try {
        this.revision = await kv.update(this.key, encoder.encode(holder), this.revision);
        this.expiresAt = attempted + ttlMs;
      } catch (error) {
        // Someone else wrote the lease: it is theirs.
        this.options.logger.warn({ device: this.options.device, err: error }, 'lease lost');
        this.setActive(false);
      }
      return;
    }
    const entry = await kv.get(this.key);
    const current = entry && entry.operation === 'PUT' ? entry.string() : undefined;
    if ((current === undefined || current === '') && (handover || this.options.mayTake?.() === false)) return;
    if (current === undefined || current === '') {
      try {
        this.revision = await kv.create(this.key, encoder.encode(holder));
      } catch {
        // Another gateway created it first.
        return;
      }
      this.expiresAt = attempted + ttlMs;
      if (preferred) await kv.delete(this.handoverKey).catch(() => undefined);
      this.setActive(true);
      return;
    }
    if (current === holder) {
      // Ours from before a restart: take it up again.
      this.revision = entry!.revision;
      this.expiresAt = attempted + ttlMs;
      this.setActive(true);
      return;
    }
    if (preferred) await kv.put(this.handoverKey, encoder.encode(holder));
  }

  private setActive(active: boolean): void {
    if (this.active === active) return;
    this.active = active;
    this.options.logger.info({ device: this.options.device, active }, active ? 'lease taken: device active here' : 'lease given up: device inactive here');
    try {
      this.options.onChange(active);
    } catch (error) {
      this.options.logger.error({ device: this.options.device, err: error }, 'lease listener failed');
    }
  }
}

/**
 * A device that speaks JSTP itself, in compact CBOR link frames (shared/JSTP.md), on
 * whatever carries its bytes: a serial port (`jstp-cbor`), a BLE characteristic. The
 * gateway side is a small engine of its own, for one device: requests go to the
 * device through the engine's peer for the link's channel, so the engine ties each
 * answer to the link and answers 502 when the link goes. The device pushes
 * `PATCH ["properties", name] {value}`, `POST ["events", name] {data}`, and
 * `PUT ["description"]` when it (re)starts; it answers `GET ["description"]`,
 * `GET ["properties"]`, `GET|PUT ["properties", name]`, `POST ["actions", name]`.
 */
import { FramedDispatchLink } from '../gateway/jstp/codec/framed-link.js';
import type { FrameCounters } from '../gateway/jstp/codec/frames.js';
import type { Channel } from '../gateway/jstp/channel.js';
import type { Dispatch, RegularMethod, ResourceElement } from '../gateway/jstp/dispatch.js';
import { Engine, type Peer } from '../gateway/jstp/engine.js';
import type { PasarelaError } from '../gateway/jstp/errors.js';
import type { Logger } from '../gateway/jstp/logger.js';
import type { Stage } from '../gateway/jstp/pipeline.js';
import { CommandQueue } from './command-queue.js';
import { badReply, deviceAnswered } from './device-errors.js';
import type { DeviceDescription } from './driver.js';
import { describeProfile, loadProfile } from './profile.js';

/** What a link tells its device about, as it reads the device's bytes. */
export interface LinkListener {
  property(name: string, value: unknown): void;
  event(name: string, data: unknown): void;
  /** The device said hello on its own (it booted): commands in flight were failed with 502, its state may be new. */
  announced(): void;
  /** A counter worth showing changed (frames dropped or lost, timeouts, bad lines). */
  countersChanged(): void;
}

/** What a device is and what its values are, learnt when the link comes up. */
export interface LinkHello {
  description: DeviceDescription;
  values: Readonly<Record<string, unknown>>;
}

/** The errors a link rejects with when the device is not there; each carries status 502. */
export interface LinkErrors {
  /** The carrier (port, connection) is not open. */
  gone(): PasarelaError;
  /** The link was closed (the driver stops, the carrier went). */
  stopped(): PasarelaError;
  /** The device booted again while a command waited. */
  restarted(): PasarelaError;
}

export interface JstpDeviceLinkOptions {
  /** Writes one whole frame to the device. */
  write(frame: Uint8Array): void;
  listener: LinkListener;
  logger: Logger;
  /** How long one command may wait for its answer. */
  commandTimeoutMs: number;
  /** How long each command of `hello` may wait. */
  helloTimeoutMs: number;
  /** The link's channel id in logs, e.g. `serial /dev/ttyUSB0`. */
  channelId: string;
  /** The device, in the messages of errors and logs. */
  name: string;
  errors: LinkErrors;
  /** Pipeline stages of the link's engine (signatures toward a device, metering). */
  stages?: readonly Stage[];
}

type DropCounters = Pick<FrameCounters, 'droppedCrc' | 'droppedCobs' | 'droppedOversize' | 'droppedVersion' | 'lost'>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class JstpDeviceLink {
  private readonly engine: Engine;
  private readonly channel: Channel;
  private readonly peer: Peer;
  private readonly frames: FramedDispatchLink;
  private readonly queue: CommandQueue<undefined>;
  private undecodable = 0;
  private timeouts = 0;
  private seenDrops = 0;
  private closed = false;

  constructor(private readonly options: JstpDeviceLinkOptions) {
    const { listener, logger } = options;
    const link = this;
    this.channel = {
      id: options.channelId,
      get isClosed() {
        return link.closed;
      },
      send: (dispatch) => this.send(dispatch),
    };
    this.frames = new FramedDispatchLink({
      write: (bytes) => options.write(bytes),
      onDispatch: (raw) => this.engine.receive(raw, this.channel),
      onRefused: (raw, reason) => this.engine.refuse(raw, this.channel, reason),
      onUndecodable: (error) => {
        // A frame with a good CRC but no dispatch inside: a firmware bug, not line noise.
        this.undecodable++;
        logger.warn({ err: error }, 'undecodable frame from the device');
      },
    });
    this.engine = new Engine({
      logger,
      // A backstop only: the command queue answers 504 first.
      answerTimeoutMs: options.commandTimeoutMs + 1_000,
    });
    for (const stage of options.stages ?? []) this.engine.use(stage);
    this.peer = this.engine.peer(this.channel);
    // Transaction ids tell answers apart, so a caller that gave up frees the line at once.
    this.queue = new CommandQueue({ timeoutMs: options.commandTimeoutMs, holdOnAbort: false, onTimeout: () => this.countTimeout() });
    this.engine.bind({ method: 'PATCH', resource: ['properties', ':name'] }, (incoming) => {
      if (isObject(incoming.body) && 'value' in incoming.body) listener.property(String(incoming.params.name), incoming.body.value);
      return undefined;
    });
    this.engine.bind({ method: 'POST', resource: ['events', ':name'] }, (incoming) => {
      listener.event(String(incoming.params.name), isObject(incoming.body) ? incoming.body.data : undefined);
      return undefined;
    });
    this.engine.bind({ method: 'PUT', resource: ['description'] }, () => {
      // It booted: what it knew of this link (the aliases) is gone.
      this.frames.restart();
      this.queue.failAll(options.errors.restarted());
      listener.announced();
      return undefined;
    });
  }

  async hello(signal?: AbortSignal): Promise<LinkHello> {
    const timeout = this.options.helloTimeoutMs;
    const announced = await this.request('GET', ['description'], undefined, signal, timeout);
    let description;
    try {
      description = describeProfile(loadProfile(`${this.options.name} (announced)`, announced));
    } catch (error) {
      throw badReply(`the device announced an unusable description: ${(error as Error).message}`);
    }
    const values = await this.request('GET', ['properties'], undefined, signal, timeout);
    if (!isObject(values)) throw badReply('the device answered GET ["properties"] with no object');
    return { description, values };
  }

  read(name: string, signal?: AbortSignal): Promise<unknown> {
    return this.request('GET', ['properties', name], undefined, signal);
  }

  write(name: string, value: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.request('PUT', ['properties', name], value, signal);
  }

  invoke(name: string, input: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.request('POST', ['actions', name], input, signal);
  }

  /** Bytes from the device, in any pieces. */
  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    this.frames.receive(bytes);
    const counters = this.frames.counters;
    const drops = dropped(counters) + counters.lost + this.undecodable + this.frames.aliasStats().unknownAliases;
    if (drops !== this.seenDrops) {
      this.seenDrops = drops;
      this.options.listener.countersChanged();
    }
  }

  counters(): Record<string, number> {
    const c = this.frames.counters;
    const aliases = this.frames.aliasStats();
    return {
      frames: c.frames,
      framesDropped: dropped(c),
      framesLost: c.lost,
      droppedCrc: c.droppedCrc,
      droppedCobs: c.droppedCobs,
      droppedOversize: c.droppedOversize,
      droppedVersion: c.droppedVersion,
      undecodable: this.undecodable,
      unknownAliases: aliases.unknownAliases,
      timeouts: this.timeouts,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.failAll(this.options.errors.stopped());
    this.engine.detach(this.channel);
    this.engine.close();
  }

  private async request(method: RegularMethod, resource: ResourceElement[], body: unknown, signal?: AbortSignal, timeoutMs?: number): Promise<unknown> {
    if (this.closed) throw this.options.errors.gone();
    return this.queue.run(undefined, async () => {
      const answers = await this.peer.request(method, resource, body).all();
      const first = answers[0];
      if (!first) throw deviceAnswered(504, 'the device gave no answer');
      if (first.status >= 200 && first.status < 300) return first.body;
      throw deviceAnswered(first.status, reasonOf(first.body) ?? `the device answered ${first.status}`);
    }, signal, timeoutMs);
  }

  private send(dispatch: Dispatch): void {
    if (this.closed) return;
    this.frames.send(dispatch);
  }

  private countTimeout(): void {
    this.timeouts++;
    this.options.listener.countersChanged();
  }
}

function dropped(c: DropCounters): number {
  return c.droppedCrc + c.droppedCobs + c.droppedOversize + c.droppedVersion;
}

function reasonOf(body: unknown): string | undefined {
  if (!isObject(body)) return undefined;
  const reason = body.reason ?? body.error;
  return typeof reason === 'string' ? reason : undefined;
}

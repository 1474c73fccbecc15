/**
 * A simulated serial robot: the model, a clock that runs it, and the firmware that
 * speaks one link protocol over whatever byte stream it is attached to (one end of
 * a PTY opened with serialport, or an in-process virtual port). An instance holds
 * everything; `stop()` clears its timer and lets go of its stream.
 */
import type { Duplex } from 'node:stream';
import { type Logger, silentLogger } from '../../gateway/jstp/logger.js';
import { JstpFirmware } from './jstp-firmware.js';
import { LineFirmware } from './line-firmware.js';
import { RobotModel, type RobotChange, type RobotModelOptions } from './model.js';
import { Noise, type NoiseOptions } from './noise.js';
import type { FirmwareContext, FirmwareProtocol, LinkProtocolName } from './protocol.js';

export interface SimulatedRobotOptions extends RobotModelOptions {
  /** The link protocol its firmware speaks (default `jstp-cbor`). */
  protocol?: LinkProtocolName;
  /** Simulated time runs this many times faster than real time (default 1). */
  timeScale?: number;
  /** Simulated milliseconds per step of the model, and between pose reports while moving (default 100). */
  tickMs?: number;
  /** Noise on the bytes the robot sends. */
  noise?: NoiseOptions;
  /** Noise on the bytes the robot receives. */
  inboundNoise?: NoiseOptions;
  logger?: Logger;
}

export class SimulatedRobot {
  readonly model: RobotModel;
  readonly protocol: LinkProtocolName;
  private readonly logger: Logger;
  private readonly timer: ReturnType<typeof setInterval>;
  private firmware: FirmwareProtocol | undefined;
  private stream: Duplex | undefined;
  private detachStream: (() => void) | undefined;
  private tx: Noise | undefined;
  private rx: Noise | undefined;
  private unresponsive = false;
  private stopped = false;
  private boots = 0;

  constructor(options: SimulatedRobotOptions = {}) {
    const timeScale = options.timeScale ?? 1;
    const tickMs = options.tickMs ?? 100;
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new RangeError(`timeScale must be a positive number, got ${timeScale}`);
    if (!(tickMs > 0)) throw new RangeError(`tickMs must be positive, got ${tickMs}`);
    this.protocol = options.protocol ?? 'jstp-cbor';
    this.logger = options.logger ?? silentLogger();
    this.model = new RobotModel((change) => this.onChange(change), options);
    this.setNoise(options.noise, options.inboundNoise);
    this.timer = setInterval(() => this.model.advance(tickMs), tickMs / timeScale);
    // A robot left running must not keep a test or the demo process alive.
    this.timer.unref();
  }

  /** Times the firmware booted on a line (each attach is a boot). */
  get bootCount(): number {
    return this.boots;
  }

  get attached(): boolean {
    return this.stream !== undefined;
  }

  /** Connects the firmware to a byte stream; it boots there and announces itself. */
  attach(stream: Duplex): void {
    if (this.stopped) throw new Error('robot stopped');
    this.detach();
    const context: FirmwareContext = {
      model: this.model,
      logger: this.logger,
      write: (bytes) => this.write(stream, bytes),
    };
    const firmware = this.protocol === 'line' ? new LineFirmware(context) : new JstpFirmware(context);
    const onData = (chunk: Buffer) => {
      if (this.unresponsive) return;
      firmware.receive(this.rx ? this.rx.apply(chunk) : chunk);
    };
    const onGone = () => {
      if (this.stream === stream) this.detach();
    };
    const onError = (error: Error) => {
      this.logger.debug({ err: error }, 'robot line error');
      onGone();
    };
    stream.on('data', onData);
    stream.on('close', onGone);
    stream.on('error', onError);
    this.stream = stream;
    this.firmware = firmware;
    this.detachStream = () => {
      stream.off('data', onData);
      stream.off('close', onGone);
      stream.off('error', onError);
    };
    this.boots++;
    this.logger.debug({ protocol: this.protocol, boot: this.boots }, 'robot firmware booted');
    firmware.announce();
  }

  /** Disconnects from the stream (the stream itself is left to its owner). */
  detach(): void {
    this.detachStream?.();
    this.detachStream = undefined;
    this.firmware?.close();
    this.firmware = undefined;
    this.stream = undefined;
  }

  /** While set, the firmware ignores what it receives (it still reports telemetry). */
  setUnresponsive(unresponsive: boolean): void {
    this.unresponsive = unresponsive;
  }

  /** Noise on what the robot sends and receives; undefined for a clean line. */
  setNoise(tx: NoiseOptions | undefined, rx?: NoiseOptions): void {
    this.tx = tx ? new Noise(tx) : undefined;
    this.rx = rx ? new Noise(rx) : undefined;
  }

  get noiseCounters(): { tx: Noise['counters'] | undefined; rx: Noise['counters'] | undefined } {
    return { tx: this.tx?.counters, rx: this.rx?.counters };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.detach();
  }

  private onChange(change: RobotChange): void {
    this.firmware?.report(change);
  }

  private write(stream: Duplex, bytes: Uint8Array): void {
    if (this.stream !== stream || stream.destroyed || !stream.writable) return;
    const out = this.tx ? this.tx.apply(bytes) : bytes;
    if (out.length > 0) stream.write(Buffer.from(out.buffer, out.byteOffset, out.length));
  }
}

/**
 * Link frames for serial and BLE (shared/JSTP.md, "Link frames"):
 * `COBS(version=1 | sequence | CBOR | CRC-32 LE) 0x00`. A link may lose or corrupt
 * bytes, so the decoder drops and counts bad frames and resynchronises on the next
 * 0x00, holding at most one frame's worth of bytes.
 */
import { errors } from '../errors.js';
import { cobsDecodeInto, cobsEncodeInto, cobsMaxLength } from './cobs.js';
import { crc32 } from './crc32.js';

export const FRAME_VERSION = 1;
/** Largest CBOR payload of a frame unless configured otherwise. */
export const DEFAULT_MAX_FRAME_PAYLOAD = 4096;

const OVERHEAD = 6; // version, sequence, CRC-32

export interface FrameOptions {
  /** Largest CBOR payload, in bytes (default 4096). */
  maxPayload?: number;
}

export interface FrameCounters {
  /** Frames delivered. */
  frames: number;
  droppedCrc: number;
  /** Invalid COBS, or too short to hold version, sequence, CBOR and CRC. */
  droppedCobs: number;
  droppedOversize: number;
  droppedVersion: number;
  /**
   * Sequence numbers skipped between delivered frames (3 then 6 counts 2), so a
   * frame dropped for a bad CRC or size is counted here as well. A repeated number
   * counts nothing.
   */
  lost: number;
}

export class FrameEncoder {
  private sequence = 0;
  private readonly maxPayload: number;

  constructor(options: FrameOptions & { firstSequence?: number } = {}) {
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_FRAME_PAYLOAD;
    this.sequence = (options.firstSequence ?? 0) & 0xff;
  }

  /** The sequence number the next frame will carry. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** One whole frame, 0x00 delimiter included. Throws FrameTooLarge over the payload limit. */
  encode(cbor: Uint8Array): Uint8Array {
    if (cbor.length > this.maxPayload) {
      throw errors.frameTooLarge(`frame payload of ${cbor.length} bytes is over the limit of ${this.maxPayload}`);
    }
    const raw = new Uint8Array(cbor.length + OVERHEAD);
    raw[0] = FRAME_VERSION;
    raw[1] = this.sequence;
    raw.set(cbor, 2);
    const crc = crc32(raw, 0, cbor.length + 2);
    const at = cbor.length + 2;
    raw[at] = crc & 0xff;
    raw[at + 1] = (crc >>> 8) & 0xff;
    raw[at + 2] = (crc >>> 16) & 0xff;
    raw[at + 3] = crc >>> 24;
    const frame = new Uint8Array(cobsMaxLength(raw.length) + 1);
    const end = cobsEncodeInto(raw, frame);
    frame[end] = 0;
    this.sequence = (this.sequence + 1) & 0xff;
    return frame.subarray(0, end + 1);
  }

  /** One frame split into pieces of at most `mtu` bytes, for BLE writes or notifications. */
  encodeChunks(cbor: Uint8Array, mtu: number): Uint8Array[] {
    if (!Number.isInteger(mtu) || mtu < 1) throw new RangeError(`MTU must be a positive integer, got ${mtu}`);
    const frame = this.encode(cbor);
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < frame.length; at += mtu) pieces.push(frame.subarray(at, Math.min(at + mtu, frame.length)));
    return pieces;
  }
}

export class FrameDecoder {
  private readonly maxPayload: number;
  private readonly maxEncoded: number;
  private readonly buffer: Uint8Array;
  private length = 0;
  private discarding = false;
  private lastSequence = -1;
  private readonly count: FrameCounters = {
    frames: 0, droppedCrc: 0, droppedCobs: 0, droppedOversize: 0, droppedVersion: 0, lost: 0,
  };

  constructor(options: FrameOptions = {}) {
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_FRAME_PAYLOAD;
    this.maxEncoded = cobsMaxLength(this.maxPayload + OVERHEAD);
    this.buffer = new Uint8Array(this.maxEncoded);
  }

  /** A snapshot of the counters. */
  get counters(): FrameCounters {
    return { ...this.count };
  }

  /** Bytes held for the frame in progress (never more than one maximal frame). */
  get buffered(): number {
    return this.length;
  }

  /** Feeds link bytes; returns the CBOR payloads of the good frames they complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const zero = chunk.indexOf(0, pos);
      const stop = zero < 0 ? chunk.length : zero;
      if (!this.discarding && stop > pos) {
        const n = stop - pos;
        if (this.length + n > this.maxEncoded) {
          // Too long to be a frame: skip to the next delimiter without keeping it.
          this.discarding = true;
          this.length = 0;
          this.count.droppedOversize++;
        } else {
          this.buffer.set(chunk.subarray(pos, stop), this.length);
          this.length += n;
        }
      }
      if (zero < 0) break;
      if (!this.discarding && this.length > 0) this.frame(out);
      this.discarding = false;
      this.length = 0;
      pos = zero + 1;
    }
    return out;
  }

  private frame(out: Uint8Array[]): void {
    const raw = new Uint8Array(this.length);
    const n = cobsDecodeInto(this.buffer, 0, this.length, raw);
    if (n < OVERHEAD + 1) {
      this.count.droppedCobs++;
      return;
    }
    const crc = (raw[n - 4]! | (raw[n - 3]! << 8) | (raw[n - 2]! << 16) | (raw[n - 1]! << 24)) >>> 0;
    if (crc32(raw, 0, n - 4) !== crc) {
      this.count.droppedCrc++;
      return;
    }
    if (raw[0] !== FRAME_VERSION) {
      this.count.droppedVersion++;
      return;
    }
    if (n - OVERHEAD > this.maxPayload) {
      this.count.droppedOversize++;
      return;
    }
    const sequence = raw[1]!;
    if (this.lastSequence >= 0 && sequence !== this.lastSequence) {
      this.count.lost += (sequence - this.lastSequence - 1) & 0xff;
    }
    this.lastSequence = sequence;
    this.count.frames++;
    out.push(raw.subarray(2, n - 4));
  }
}

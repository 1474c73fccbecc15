/**
 * RFC 8742 CBOR sequences on a byte stream (JSTP over TCP after a CBOR first byte):
 * dispatches one after another with no delimiter. The pre-scan finds where each item
 * ends, so a dispatch split over chunks, or many per chunk, both work, and at most one
 * partial item (never more than the size limit) is buffered.
 */
import { CborDecodeError } from './cbor-error.js';
import { CborScanner, NEED_MORE, type CborLimits } from './cbor-scan.js';
import { decodeScanned, resolveLimits } from './cbor.js';

export type SequenceItem =
  | { ok: true; value: unknown }
  /**
   * `fatal`: the stream cannot be framed any more (CBOR has no resync point); the
   * decoder is finished and the connection should close. Otherwise only this item
   * was bad and the stream goes on.
   */
  | { ok: false; error: CborDecodeError; fatal: boolean };

export interface CborSequenceOptions {
  /** `maxBytes` is the largest item accepted (default 64 KiB). */
  limits?: Partial<CborLimits>;
  /**
   * Reads each whole item (its exact bytes, valid during the call), e.g. with a link's
   * aliases; a CborDecodeError it throws fails that item only. Default: the stateless decoder.
   */
  decode?: (item: Uint8Array) => unknown;
}

export class CborSequenceDecoder {
  private readonly limits: Readonly<CborLimits>;
  private readonly scanner: CborScanner;
  private readonly decode: ((item: Uint8Array) => unknown) | undefined;
  private pending: Uint8Array = new Uint8Array(0);
  private pendingLength = 0;
  private failure: CborDecodeError | undefined;

  constructor(options: CborSequenceOptions = {}) {
    this.limits = resolveLimits(options.limits);
    this.scanner = new CborScanner(this.limits);
    this.decode = options.decode;
  }

  /** Bytes of a partial item held until more arrive. */
  get buffered(): number {
    return this.pendingLength;
  }

  /** The error that ended the stream, if any. */
  get failed(): CborDecodeError | undefined {
    return this.failure;
  }

  /**
   * Feeds bytes; returns one result per item completed by them, in order. After a
   * fatal result, further calls throw that error.
   */
  push(chunk: Uint8Array): SequenceItem[] {
    if (this.failure) throw this.failure;
    const out: SequenceItem[] = [];
    const max = this.limits.maxBytes;
    let pos = 0;
    try {
      while (pos < chunk.length) {
        if (this.pendingLength > 0) {
          // Copy no more than the limit allows; the scan fails once an item cannot fit.
          const take = Math.min(chunk.length - pos, max - this.pendingLength);
          this.append(chunk, pos, take);
          const length = this.scanner.scan(this.pending, 0, this.pendingLength);
          if (length === NEED_MORE) {
            pos += take;
            continue;
          }
          pos += take - (this.pendingLength - length);
          this.pendingLength = 0;
          this.emit(this.pending, 0, length, out);
        } else {
          const length = this.scanner.scan(chunk, pos, chunk.length);
          if (length === NEED_MORE) {
            this.append(chunk, pos, chunk.length - pos);
            break;
          }
          this.emit(chunk, pos, length, out);
          pos += length;
        }
      }
    } catch (error) {
      if (!(error instanceof CborDecodeError)) throw error;
      this.failure = error;
      this.pending = new Uint8Array(0);
      this.pendingLength = 0;
      out.push({ ok: false, error, fatal: true });
    }
    return out;
  }

  private append(chunk: Uint8Array, from: number, count: number): void {
    const needed = this.pendingLength + count;
    if (needed > this.pending.length) {
      let size = Math.max(256, this.pending.length * 2);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, Math.max(needed, this.limits.maxBytes)));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(chunk.subarray(from, from + count), this.pendingLength);
    this.pendingLength = needed;
  }

  private emit(bytes: Uint8Array, start: number, length: number, out: SequenceItem[]): void {
    this.scanner.reset();
    try {
      // The value keeps no view of `bytes`: byte strings become text.
      const value = this.decode ? this.decode(bytes.subarray(start, start + length)) : decodeScanned(bytes, start);
      out.push({ ok: true, value });
    } catch (error) {
      if (!(error instanceof CborDecodeError)) throw error;
      out.push({ ok: false, error, fatal: false });
    }
  }
}

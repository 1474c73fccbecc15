/**
 * JSON-lines framing on a byte stream: one dispatch per `\n`-terminated line.
 * Pure: fed Buffer chunks, it yields complete lines, however the stream was cut.
 * node-jstp split each chunk on `\n` and lost dispatches spanning two chunks; here
 * the unfinished tail of a chunk waits for the rest.
 */
import { serializeDispatch, type Dispatch } from '../dispatch.js';

/** Default largest line (without its terminator): 1 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

export interface LineDecoderOptions {
  /** Largest line accepted, in bytes, terminator excluded (default 1 MiB). */
  maxLineBytes?: number;
}

/**
 * Splits a byte stream into UTF-8 lines. `\n` ends a line and a `\r` before it is
 * dropped; empty lines are skipped. A line longer than `maxLineBytes` makes `push`
 * return false: the decoder then holds nothing and ignores further input, and the
 * caller is expected to close the stream.
 *
 * Splitting bytes on 0x0A is safe in UTF-8: the byte never occurs inside a
 * multi-byte sequence, so each line is decoded whole.
 */
export class LineDecoder {
  readonly maxLineBytes: number;
  /** Pieces of the unfinished line, copied so a big chunk is not kept alive for its tail. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflow = false;

  constructor(options: LineDecoderOptions = {}) {
    const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(max) || max <= 0) throw new RangeError('maxLineBytes must be a positive integer');
    this.maxLineBytes = max;
  }

  /** True once a line went over the limit. */
  get overflowed(): boolean {
    return this.overflow;
  }

  /** Bytes of an unfinished line held until its terminator arrives. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Feeds a chunk and calls `onLine` for each complete line, in order. Returns false
   * when a line exceeds the limit (lines completed before it in the chunk were
   * delivered); every later call returns false too.
   */
  push(chunk: Uint8Array, onLine: (line: string) => void): boolean {
    if (this.overflow) return false;
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const length = buffer.length;
    const max = this.maxLineBytes;
    let start = 0;
    while (start < length) {
      const newline = buffer.indexOf(LF, start);
      if (newline === -1) {
        // No terminator: keep the tail, unless it already cannot fit.
        const tail = length - start;
        if (this.pendingBytes + tail > max + 1) return this.fail();
        this.pending.push(Buffer.from(buffer.subarray(start)));
        this.pendingBytes += tail;
        return true;
      }
      let line: string;
      if (this.pendingBytes === 0) {
        let end = newline;
        if (end > start && buffer[end - 1] === CR) end--;
        if (end - start > max) return this.fail();
        line = end > start ? buffer.toString('utf8', start, end) : '';
      } else {
        const whole = this.pendingBytes + (newline - start);
        // Allow one byte over for a `\r` that is removed below.
        if (whole > max + 1) return this.fail();
        this.pending.push(buffer.subarray(start, newline));
        const joined = Buffer.concat(this.pending, whole);
        this.pending = [];
        this.pendingBytes = 0;
        let end = joined.length;
        if (end > 0 && joined[end - 1] === CR) end--;
        if (end > max) return this.fail();
        line = joined.toString('utf8', 0, end);
      }
      start = newline + 1;
      if (line.length > 0) onLine(line);
    }
    return true;
  }

  /** Feeds a chunk and returns its complete lines; undefined on overflow. */
  lines(chunk: Uint8Array): string[] | undefined {
    const out: string[] = [];
    return this.push(chunk, (line) => out.push(line)) ? out : undefined;
  }

  /** Drops any unfinished line (e.g. when the stream ends). Returns its byte count. */
  reset(): number {
    const dropped = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    return dropped;
  }

  private fail(): false {
    this.overflow = true;
    this.reset();
    return false;
  }
}

/** One dispatch as a JSON line, `\n` included. */
export function encodeLine(dispatch: Dispatch): string {
  return serializeDispatch(dispatch) + '\n';
}

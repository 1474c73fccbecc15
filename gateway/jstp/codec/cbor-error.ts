/**
 * The one error type CBOR decoding throws, so callers can tell hostile or broken
 * input (drop it, maybe close the link) from bugs.
 */
import { ErrorCode, PasarelaError } from '../errors.js';

/** Why decoding failed; stable strings that tests and logs can compare. */
export type CborDecodeReason =
  | 'truncated' // the item ends past the input
  | 'trailing-bytes' // bytes after the one item a dispatch must be
  | 'malformed' // not well-formed CBOR (reserved additional info, stray break, ...)
  | 'unsupported' // well-formed but outside the JSON data model (tags, undefined, simple values, NaN)
  | 'too-large' // item bigger than the size limit
  | 'too-deep' // nesting deeper than the depth limit
  | 'string-too-long'
  | 'container-too-long'
  | 'bad-key' // a map key that is neither text nor integer, or an integer header key we do not know
  | 'duplicate-header'
  | 'bad-alias' // key 9 that is not an unsigned integer up to 255
  | 'unknown-alias' // an alias the peer never defined on this link
  | 'not-a-dispatch'; // top-level item is not a map

export class CborDecodeError extends PasarelaError {
  readonly reason: CborDecodeReason;
  /** Byte offset in the item where the problem was seen, when known. */
  readonly offset: number | undefined;
  /** For `unknown-alias`: the dispatch as read, without its resource (see codec.ts, UnrestorableDispatch). */
  readonly partial: Record<string, unknown> | undefined;

  constructor(reason: CborDecodeReason, message: string, options?: { offset?: number; cause?: unknown; partial?: Record<string, unknown> }) {
    super(ErrorCode.DecodeError, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CborDecodeError';
    this.reason = reason;
    this.offset = options?.offset;
    this.partial = options?.partial;
  }
}

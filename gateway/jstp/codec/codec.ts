/**
 * The one interface of a binary dispatch codec, as transports, the forwarding pool
 * and the client take it (compact CBOR today: see cbor.ts and `cborCodec`). It is an
 * option rather than an import so the wire code does not depend on which codec is
 * installed, and JSON-only clients never load one.
 */
import type { Dispatch } from '../dispatch.js';

export interface DispatchCodec {
  encodeDispatch(dispatch: Dispatch): Uint8Array;
  /** A decoded dispatch, not yet validated (the engine does that); throws on bad bytes. */
  decodeDispatch(bytes: Uint8Array): unknown;
}

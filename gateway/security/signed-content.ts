/**
 * What a dispatch signature covers (docs/spec/security.md, "The signed content"):
 * the detached payload of its COSE_Sign1, a deterministic CBOR array
 * [method, target, timestamp, body, referer]. Headers that engines rewrite hop by
 * hop (`host`, `token`) and `protocol` stay outside, so a signature survives any
 * number of engines; an absent body counts as {} and an absent referer as [], which
 * is what node-jstp puts in their place. Browser-safe.
 */
import { METHOD_CODES } from '../jstp/codec/method-codes.js';
import { CborWriter } from '../jstp/codec/cbor-writer.js';
import type { Dispatch } from '../jstp/dispatch.js';

const payloadWriter = new CborWriter();
const structureWriter = new CborWriter();

function writeMethod(w: CborWriter, method: string): void {
  const code = METHOD_CODES[method];
  if (code === undefined) w.text(method);
  else w.head(0, code);
}

/** The payload's bytes: a view, valid until the next call. */
function payload(dispatch: Dispatch): Uint8Array {
  const w = payloadWriter;
  w.begin();
  try {
    w.head(4, 5);
    writeMethod(w, dispatch.method);
    if (dispatch.method === 'ANSWER') {
      w.value(dispatch.resource?.[0], 1);
    } else if (dispatch.endpoint) {
      w.head(4, 2);
      const method = dispatch.endpoint.method;
      if (method === '*') w.text('*');
      else writeMethod(w, method);
      w.value(dispatch.endpoint.resource, 2);
    } else {
      w.value(dispatch.resource, 1);
    }
    w.value(dispatch.timestamp, 1);
    if (dispatch.body === undefined) w.head(5, 0);
    else w.value(dispatch.body, 1);
    if (dispatch.referer === undefined) w.head(4, 0);
    else w.value(dispatch.referer, 1);
    return w.finish();
  } catch (error) {
    w.abandon();
    throw error;
  }
}

/** The detached payload of a dispatch signature (a copy). */
export function signedPayload(dispatch: Dispatch): Uint8Array {
  return payload(dispatch).slice();
}

const SIGNATURE1 = 'Signature1';
const EMPTY = new Uint8Array(0);

/**
 * The bytes Ed25519 signs for a dispatch (RFC 9052 §4.4):
 * ["Signature1", protected, external_aad, payload]. A view, valid until the next call.
 * Throws PasarelaError (BadDispatch) for a body CBOR cannot carry.
 */
export function toBeSigned(dispatch: Dispatch, protectedBytes: Uint8Array, externalAad: Uint8Array = EMPTY): Uint8Array {
  const content = payload(dispatch);
  const w = structureWriter;
  w.begin();
  w.head(4, 4);
  w.text(SIGNATURE1);
  w.bytes(protectedBytes);
  w.bytes(externalAad);
  w.bytes(content);
  return w.finish();
}

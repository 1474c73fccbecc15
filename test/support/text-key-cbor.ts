/**
 * Plain CBOR of a dispatch's JSON wire object (text keys, `token: []` included), as
 * any CBOR library would write it: input for the decoder's interop and fuzz tests and
 * the codec benchmark's middle ground. Written by cbor-x, a development dependency
 * only: the gateway encodes with its own writer (gateway/jstp/codec/cbor.ts).
 * Not deterministic: keys keep insertion order and large integers become floats.
 */
import { Encoder } from 'cbor-x';
import { toWire, type Dispatch } from '../../gateway/jstp/dispatch.js';

// Some options cbor-x reads are missing from its typings, hence the untyped object.
const options = {
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  useTag259ForMaps: false,
  variableMapSize: true,
};
const encoder = new Encoder(options);

export function encodeTextKeyed(dispatch: Dispatch): Uint8Array {
  return encoder.encode(toWire(dispatch));
}

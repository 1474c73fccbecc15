/**
 * Random (v4) UUIDs for transaction and triggering ids, wherever the engine runs.
 * `crypto.randomUUID` exists in Node and in browsers' secure contexts only; a phone
 * that opens a gateway at its LAN address over plain http has `getRandomValues`
 * alone. Ids need to be unique, not secret.
 */
// The DOM typings declare randomUUID as always there; outside secure contexts it is not.
const cryptoObject = globalThis.crypto as Omit<Crypto, 'randomUUID'> & { randomUUID?: () => string };

function uuidFromRandomValues(): string {
  const bytes = cryptoObject.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const randomUUID: () => string = cryptoObject.randomUUID?.bind(cryptoObject) ?? uuidFromRandomValues;

/** Exported for tests: the fallback used where `crypto.randomUUID` is missing. */
export { uuidFromRandomValues };

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A short random engine id (48 bits, 8 base64url characters): it travels in the `via`
 * trace of every delivered dispatch, so it is kept small; unique among the engines of
 * one network is all it must be.
 */
export function randomEngineId(): string {
  const bytes = cryptoObject.getRandomValues(new Uint8Array(6));
  let id = '';
  for (let i = 0; i < 6; i += 3) {
    const triple = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    id += BASE64URL[triple >> 18]! + BASE64URL[(triple >> 12) & 63]! + BASE64URL[(triple >> 6) & 63]! + BASE64URL[triple & 63]!;
  }
  return id;
}

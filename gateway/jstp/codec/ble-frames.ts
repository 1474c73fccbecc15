/**
 * JSTP over Bluetooth LE (this project's extension of shared/JSTP.md "Link frames"):
 * a device that speaks JSTP itself serves one GATT characteristic in a service of its
 * own. The central writes link frames to it and the device notifies link frames back,
 * each frame cut into pieces that fit one ATT packet (MTU - 3 bytes); the frame
 * delimiter (0x00) tells where a frame ends, so pieces need no header.
 */

/** The JSTP service ("JSTP" in its first four bytes). */
export const JSTP_GATT_SERVICE = '4a5354509a1e4b5c8f3d2c6e0b7a1d00';
/** Its one characteristic: written by the central (with or without response), notified by the device. */
export const JSTP_GATT_CHARACTERISTIC = '4a5354509a1e4b5c8f3d2c6e0b7a1d01';

/** The ATT MTU every connection starts with, until an exchange says more. */
export const DEFAULT_ATT_MTU = 23;

/** Bytes one write or notification carries at `mtu`: the ATT header takes 3. */
export function attPayload(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < 4) throw new RangeError(`an ATT MTU must be an integer of at least 4, got ${mtu}`);
  return mtu - 3;
}

/** A frame cut into pieces of one ATT packet each, in order (views into `frame`). */
export function framePieces(frame: Uint8Array, mtu: number): Uint8Array[] {
  const size = attPayload(mtu);
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < frame.length; at += size) pieces.push(frame.subarray(at, Math.min(at + size, frame.length)));
  return pieces;
}

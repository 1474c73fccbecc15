/**
 * bech32m (BIP 350): text for people to read aloud and compare. A human-readable
 * prefix, the separator `1`, the data in a 32-character alphabet without 1, b, i and
 * o, and a 6-character BCH checksum that detects any 4 wrong characters. Pure.
 */

const ALPHABET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32M_CONST = 0x2bc830a3;
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let checksum = 1;
  for (const value of values) {
    const top = checksum >>> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) checksum ^= GENERATOR[i]!;
  }
  return checksum >>> 0;
}

function expandPrefix(prefix: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < prefix.length; i++) out.push(prefix.charCodeAt(i) >>> 5);
  out.push(0);
  for (let i = 0; i < prefix.length; i++) out.push(prefix.charCodeAt(i) & 31);
  return out;
}

/** Regroups bits: 8-bit bytes into 5-bit groups (padding the last one) or back. */
function regroup(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | undefined {
  let accumulator = 0;
  let bits = 0;
  const out: number[] = [];
  const mask = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    accumulator = (accumulator << from) | data[i]!;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((accumulator >>> bits) & mask);
    }
    accumulator &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((accumulator << (to - bits)) & mask);
  } else if (bits >= from || (accumulator << (to - bits)) & mask) {
    return undefined;
  }
  return out;
}

export function bech32mEncode(prefix: string, bytes: Uint8Array): string {
  const data = regroup(bytes, 8, 5, true)!;
  const values = [...expandPrefix(prefix), ...data, 0, 0, 0, 0, 0, 0];
  const checksum = polymod(values) ^ BECH32M_CONST;
  let out = `${prefix}1`;
  for (const value of data) out += ALPHABET[value];
  for (let i = 0; i < 6; i++) out += ALPHABET[(checksum >>> (5 * (5 - i))) & 31];
  return out;
}

export type Bech32Result = { ok: true; prefix: string; bytes: Uint8Array } | { ok: false; reason: string };

/** Reads bech32m text: all lower or all upper case, checksum checked. */
export function bech32mDecode(text: string): Bech32Result {
  if (text.length > 90) return { ok: false, reason: 'is longer than 90 characters' };
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return { ok: false, reason: 'mixes upper and lower case' };
  const lower = text.toLowerCase();
  const separator = lower.lastIndexOf('1');
  if (separator < 1 || lower.length - separator - 1 < 6) return { ok: false, reason: 'has no prefix, separator and checksum' };
  const prefix = lower.slice(0, separator);
  for (let i = 0; i < prefix.length; i++) {
    const code = prefix.charCodeAt(i);
    if (code < 33 || code > 126) return { ok: false, reason: 'has a character the prefix cannot hold' };
  }
  const data: number[] = [];
  for (const character of lower.slice(separator + 1)) {
    const value = ALPHABET.indexOf(character);
    if (value < 0) return { ok: false, reason: `has "${character}", which is not in the alphabet` };
    data.push(value);
  }
  if (polymod([...expandPrefix(prefix), ...data]) !== BECH32M_CONST) return { ok: false, reason: 'checksum does not match (a character is wrong)' };
  const bytes = regroup(data.slice(0, -6), 5, 8, false);
  if (!bytes) return { ok: false, reason: 'has padding bits set' };
  return { ok: true, prefix, bytes: Uint8Array.from(bytes) };
}

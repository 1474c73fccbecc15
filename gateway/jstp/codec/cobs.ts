/**
 * Consistent Overhead Byte Stuffing: removes every 0x00 from a payload so 0x00 can
 * delimit frames. Overhead is one byte per 254 bytes, plus one.
 */

/** Largest encoding of `length` bytes. */
export function cobsMaxLength(length: number): number {
  return length + 1 + Math.floor(length / 254);
}

/** Encodes `input` into `output` at `at` (room: cobsMaxLength); returns the end position. */
export function cobsEncodeInto(input: Uint8Array, output: Uint8Array, at = 0): number {
  let codeAt = at;
  let out = at + 1;
  let code = 1;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === 0) {
      output[codeAt] = code;
      codeAt = out++;
      code = 1;
      continue;
    }
    output[out++] = byte;
    if (++code === 0xff) {
      // A full block of 254 non-zero bytes implies no zero; a new block starts only
      // if input remains (the usual form: no empty trailing block).
      output[codeAt] = code;
      if (i + 1 === input.length) return out;
      codeAt = out++;
      code = 1;
    }
  }
  output[codeAt] = code;
  return out;
}

export function cobsEncode(input: Uint8Array): Uint8Array {
  const output = new Uint8Array(cobsMaxLength(input.length));
  return output.subarray(0, cobsEncodeInto(input, output));
}

/**
 * Decodes one frame body (without its 0x00 delimiter). Returns the decoded length
 * written to `output` (room: input length), or -1 when the encoding is invalid.
 */
export function cobsDecodeInto(input: Uint8Array, start: number, end: number, output: Uint8Array): number {
  let out = 0;
  let i = start;
  while (i < end) {
    const code = input[i++]!;
    if (code === 0) return -1;
    const blockEnd = i + code - 1;
    if (blockEnd > end) return -1;
    while (i < blockEnd) {
      const byte = input[i++]!;
      if (byte === 0) return -1;
      output[out++] = byte;
    }
    // The zero a block implies is dropped after the last block.
    if (code !== 0xff && i < end) output[out++] = 0;
  }
  return out;
}

export function cobsDecode(input: Uint8Array): Uint8Array | undefined {
  const output = new Uint8Array(input.length);
  const length = cobsDecodeInto(input, 0, input.length, output);
  return length < 0 ? undefined : output.subarray(0, length);
}

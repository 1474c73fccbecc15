/**
 * The dashboard's app icons, drawn here rather than copied: a footbridge (a
 * *pasarela*) in white on the dashboard's blue, an arch over a deck with hangers.
 * Shapes are tested per sample, 4x4 samples a pixel for smooth edges, and written
 * as RGBA PNG with node:zlib. `maskable` fills the square edge to edge and keeps the
 * bridge inside the safe circle (80 % of the width) that launchers may crop to.
 */
import { deflateSync } from 'node:zlib';

const BLUE = [0x0b, 0x62, 0xc4];
const WHITE = [0xff, 0xff, 0xff];
const SAMPLES = 4;

/** Is (x, y), in units of the icon's width (0..1, y down), on the bridge? */
function onBridge(x, y) {
  const cx = 0.5;
  const deckTop = 0.62;
  const deck = x >= 0.14 && x <= 0.86 && y >= deckTop && y <= 0.69;
  const feet = y > 0.69 && y <= 0.8 && ((x >= 0.17 && x <= 0.24) || (x >= 0.76 && x <= 0.83));
  const r = Math.hypot(x - cx, y - deckTop);
  const arch = y <= deckTop && r >= 0.25 && r <= 0.31;
  // Hangers from the arch down to the deck.
  let hanger = false;
  for (const hx of [0.36, 0.43, 0.5, 0.57, 0.64]) {
    if (Math.abs(x - hx) <= 0.012 && y <= deckTop && r <= 0.26) hanger = true;
  }
  return deck || feet || arch || hanger;
}

/** Inside the square with rounded corners (radius `corner`), in the same units. */
function inRoundedSquare(x, y, corner) {
  const dx = Math.max(Math.abs(x - 0.5) - (0.5 - corner), 0);
  const dy = Math.max(Math.abs(y - 0.5) - (0.5 - corner), 0);
  return dx * dx + dy * dy <= corner * corner;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A square PNG icon of `size` pixels. */
export function icon(size, { maskable = false } = {}) {
  // Maskable: the bridge shrunk into the safe circle; plain: a rounded tile.
  const scale = maskable ? 0.8 : 1;
  const rows = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0, then RGBA
    for (let px = 0; px < size; px++) {
      let tile = 0;
      let bridge = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = (px + (sx + 0.5) / SAMPLES) / size;
          const y = (py + (sy + 0.5) / SAMPLES) / size;
          if (!maskable && !inRoundedSquare(x, y, 0.2)) continue;
          tile++;
          if (onBridge(0.5 + (x - 0.5) / scale, 0.5 + (y - 0.5) / scale)) bridge++;
        }
      }
      const total = SAMPLES * SAMPLES;
      const white = tile === 0 ? 0 : bridge / tile;
      const offset = 1 + px * 4;
      for (let channel = 0; channel < 3; channel++) row[offset + channel] = Math.round(BLUE[channel] * (1 - white) + WHITE[channel] * white);
      row[offset + 3] = Math.round((255 * tile) / total);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bits per channel
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Every icon the manifest and index.html name. */
export const ICONS = [
  { name: 'icon-192.png', size: 192 },
  { name: 'icon-512.png', size: 512 },
  { name: 'icon-maskable-512.png', size: 512, maskable: true },
  // iOS rounds the corners itself, so edge to edge like a maskable one.
  { name: 'apple-touch-icon.png', size: 180, maskable: true },
];

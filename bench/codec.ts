/**
 * Compact CBOR dispatches against JSON lines: size, encode+decode speed, and how
 * many sensor frames a 115200-baud serial link carries. Run: npx tsx bench/codec.ts
 * Prints one JSON line per measurement.
 */
import {
  createAnswer,
  createDispatch,
  createSubscription,
  serializeDispatch,
  type Dispatch,
} from '../gateway/jstp/dispatch.js';
import { decodeDispatch, encodeDispatch } from '../gateway/jstp/codec/cbor.js';
import { FrameEncoder } from '../gateway/jstp/codec/frames.js';
import { encodeTextKeyed } from '../test/support/text-key-cbor.js';

const AT = 1_700_000_000_000;
const TX = '3f0c9a52-8d4e-4c1b-9e7a-2b5d6f8a1c03';
const TRIGGER = 'b7e4d2a1-6c3f-4a8e-9d5b-0f1e2c3d4a5b';

function cases(): Array<{ name: string; dispatch: Dispatch }> {
  const patch = createDispatch('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], {
    body: { value: 21.5, at: AT },
    timestamp: AT,
  });
  const post = createDispatch('POST', ['devices', 'coffee', 'actions', 'brew'], {
    body: { size: 'large', strength: 3, milk: false },
    token: [TX],
    timestamp: AT,
  });
  const bind = createSubscription('BIND', { method: 'PATCH', resource: ['devices', '*', 'properties', 'temperature'] }, [TX]);
  bind.timestamp = AT;
  const answer = createAnswer(200, TX, TRIGGER, { value: 21.5 });
  answer.timestamp = AT;
  return [
    { name: 'sensor PATCH', dispatch: patch },
    { name: 'action POST', dispatch: post },
    { name: 'BIND', dispatch: bind },
    { name: 'ANSWER', dispatch: answer },
  ];
}

let sink = 0;

function spin(run: () => number, ms: number): number {
  const end = performance.now() + ms;
  let ops = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) sink += run();
    ops += 200;
  }
  return ops;
}

/**
 * Operations per second of `ours` and `theirs`, measured in alternating 50 ms slices
 * for about `seconds` each after a warmup, so both see the same machine load.
 */
function compare(ours: () => number, theirs: () => number, seconds = 1): [number, number] {
  spin(ours, 250);
  spin(theirs, 250);
  let oursOps = 0;
  let theirsOps = 0;
  let oursMs = 0;
  let theirsMs = 0;
  for (let round = 0; round < seconds * 20; round++) {
    let t = performance.now();
    oursOps += spin(ours, 50);
    oursMs += performance.now() - t;
    t = performance.now();
    theirsOps += spin(theirs, 50);
    theirsMs += performance.now() - t;
  }
  return [(oursOps * 1000) / oursMs, (theirsOps * 1000) / theirsMs];
}

function line(record: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: 'codec', ...record }));
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

for (const { name, dispatch } of cases()) {
  const compact = encodeDispatch(dispatch);
  const json = serializeDispatch(dispatch);
  const jsonBytes = Buffer.byteLength(json);
  line({
    case: `${name} size`,
    unit: 'bytes',
    ours: compact.length,
    peer: 'JSON',
    theirs: jsonBytes,
    ratio: round(compact.length / jsonBytes),
    textKeyCbor: encodeTextKeyed(dispatch).length,
  });

  const [ours, theirs] = compare(
    () => (decodeDispatch(encodeDispatch(dispatch)).timestamp as number),
    () => ((JSON.parse(serializeDispatch(dispatch)) as Record<string, unknown>).timestamp as number),
  );
  line({
    case: `${name} encode+decode`,
    unit: 'ops/s',
    ours: Math.round(ours),
    peer: 'JSON.stringify+parse',
    theirs: Math.round(theirs),
    ratio: round(ours / theirs),
  });

  if (name === 'sensor PATCH') {
    // 8N1 serial: 10 bits per byte, so 115200 baud moves 11520 bytes/s.
    const bytesPerSecond = 115200 / 10;
    const frame = new FrameEncoder().encode(compact).length;
    const jsonLine = jsonBytes + 1;
    line({
      case: 'sensor PATCH frames at 115200 baud',
      unit: 'frames/s',
      ours: round(bytesPerSecond / frame, 1),
      peer: 'JSON line',
      theirs: round(bytesPerSecond / jsonLine, 1),
      ratio: round(jsonLine / frame),
      frameBytes: frame,
    });
  }
}

if (sink === 42) console.log('');

/**
 * Compact CBOR dispatches against JSON: sizes (JSON, version 1, version 2 at first use
 * of a resource, when its alias is defined, and in the steady state, when the alias
 * is used), encode+decode speed over one link in the steady state against
 * JSON.stringify + JSON.parse, how many sensor reports a 115200-baud serial link and a
 * BLE link at the default 23-byte ATT MTU carry, and what per-link aliases cost a
 * fan-out of one dispatch to ten links.
 * Run: npm run bench -- codec   (or: npx tsx bench/codec.ts)
 * Prints one JSON line per measurement. Targets (issue 13): sensor PATCH steady state
 * at most 40% of JSON; encode+decode at least 1.0x JSON.
 */
import { attPayload, DEFAULT_ATT_MTU } from '../gateway/jstp/codec/ble-frames.js';
import { encodeDispatch, encodeDispatchV1 } from '../gateway/jstp/codec/cbor.js';
import { openLink } from '../gateway/jstp/codec/cbor-link.js';
import type { LinkCodec } from '../gateway/jstp/codec/codec.js';
import { FramedDispatchLink } from '../gateway/jstp/codec/framed-link.js';
import { FrameEncoder } from '../gateway/jstp/codec/frames.js';
import {
  createAnswer,
  createDispatch,
  createSubscription,
  serializeDispatch,
  type Dispatch,
} from '../gateway/jstp/dispatch.js';

const AT = 1_700_000_000_000;
const TX = '3f0c9a52-8d4e-4c1b-9e7a-2b5d6f8a1c03';
const TRIGGER = 'b7e4d2a1-6c3f-4a8e-9d5b-0f1e2c3d4a5b';
/** 8N1 serial: 10 bits per byte. */
const SERIAL_BYTES_PER_SECOND = 115200 / 10;
/**
 * What a BLE link delivers at the default MTU, as an assumption stated in every line:
 * a 30 ms connection interval with 4 notifications per connection event (a common
 * figure for phones and BlueZ), so 133 notifications of MTU - 3 = 20 bytes a second.
 */
const BLE = { connectionIntervalMs: 30, notificationsPerEvent: 4 };
const BLE_NOTIFICATIONS_PER_SECOND = (1000 / BLE.connectionIntervalMs) * BLE.notificationsPerEvent;

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

/** Two ends of a connection after the client's offer: each end aliases toward the other. */
function linkPair(): { sender: LinkCodec; receiver: LinkCodec } {
  const sender = openLink();
  const receiver = openLink({ offerAliases: true });
  sender.decode(receiver.encode(createDispatch('GET', ['gateway'], { timestamp: AT })));
  receiver.decode(sender.encode(createDispatch('GET', ['gateway'], { timestamp: AT })));
  return { sender, receiver };
}

/** Distinct copies of a dispatch, as a stream of them is (no encoder may reuse an earlier result). */
function copies(dispatch: Dispatch, n: number): Dispatch[] {
  return Array.from({ length: n }, (_, i) => ({ ...dispatch, timestamp: dispatch.timestamp + i }) as Dispatch);
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

/** CPU time of this process in ms: under a loaded machine it counts only our own work. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Operations per CPU second of `ours` and `theirs`, measured in alternating 50 ms
 * slices for about `seconds` each after a warmup, so both see the same machine load.
 */
function compare(ours: () => number, theirs: () => number, seconds = 1): [number, number] {
  spin(ours, 250);
  spin(theirs, 250);
  let oursOps = 0;
  let theirsOps = 0;
  let oursMs = 0;
  let theirsMs = 0;
  for (let round = 0; round < seconds * 20; round++) {
    let t = cpuMs();
    oursOps += spin(ours, 50);
    oursMs += cpuMs() - t;
    t = cpuMs();
    theirsOps += spin(theirs, 50);
    theirsMs += cpuMs() - t;
  }
  return [(oursOps * 1000) / oursMs, (theirsOps * 1000) / theirsMs];
}

function line(record: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: 'codec', ...record }));
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

for (const { name, dispatch } of cases()) {
  const json = Buffer.byteLength(serializeDispatch(dispatch));
  const v1 = encodeDispatchV1(dispatch).length;
  const { sender, receiver } = linkPair();
  const [first, second] = copies(dispatch, 2).map((d) => {
    const bytes = sender.encode(d);
    receiver.decode(bytes);
    return bytes.length;
  });
  line({
    case: `${name} size`,
    unit: 'bytes',
    json,
    v1,
    v2FirstUse: first,
    v2Steady: second,
    // The figure the target is about: the steady state against JSON.
    ours: second,
    peer: 'JSON',
    theirs: json,
    ratio: round(second! / json),
    ratios: { v1: round(v1 / json), v2FirstUse: round(first! / json), v2Steady: round(second! / json) },
  });

  const stream = copies(dispatch, 1024);
  let i = 0;
  let j = 0;
  const [ours, theirs] = compare(
    () => ((receiver.decode(sender.encode(stream[i++ & 1023]!)) as Record<string, unknown>).timestamp as number),
    () => ((JSON.parse(serializeDispatch(stream[j++ & 1023]!)) as Record<string, unknown>).timestamp as number),
  );
  line({
    case: `${name} encode+decode (v2 link, steady state)`,
    unit: 'ops/cpu-s',
    ours: Math.round(ours),
    peer: 'JSON.stringify+parse',
    theirs: Math.round(theirs),
    ratio: round(ours / theirs),
    aliasUses: receiver.stats().usesReceived,
  });
}

// ---- a sensor's reports on constrained links ---------------------------------------------

{
  const reports = copies(cases()[0]!.dispatch, 64).map((d, n) => ({ ...d, body: { value: 21.5 + n / 100, at: d.timestamp } }) as Dispatch);
  // The device's end, once the gateway has answered its offer; frames carry the bare header.
  const device = new FramedDispatchLink({ write: () => undefined, offerAliases: true, onDispatch: () => undefined, onUndecodable: () => undefined });
  device.receive(new FramedDispatchLink({ write: () => undefined, offerAliases: true, onDispatch: () => undefined, onUndecodable: () => undefined }).frame(createDispatch('GET', ['properties'], { timestamp: AT, token: [TX] })));
  device.frame(reports[0]!);
  // Steady state: 16 reports in a row hold one repeated definition and 15 uses.
  const frames = reports.slice(1, 17).map((report) => device.frame(report).length);
  const frameBytes = frames.reduce((a, b) => a + b, 0) / frames.length;
  const v1Frame = new FrameEncoder().encode(encodeDispatchV1({ ...reports[1]!, protocol: ['JSTP', '0.5'] })).length;
  const jsonLine = Buffer.byteLength(serializeDispatch(reports[1]!)) + 1;
  line({
    case: 'sensor PATCH frames at 115200 baud',
    unit: 'frames/s',
    ours: round(SERIAL_BYTES_PER_SECOND / frameBytes, 1),
    peer: 'JSON line',
    theirs: round(SERIAL_BYTES_PER_SECOND / jsonLine, 1),
    ratio: round(jsonLine / frameBytes),
    frameBytes: round(frameBytes, 1),
    v1FrameBytes: v1Frame,
    v1FramesPerSecond: round(SERIAL_BYTES_PER_SECOND / v1Frame, 1),
  });
  const payload = attPayload(DEFAULT_ATT_MTU);
  const pieces = frames.reduce((sum, bytes) => sum + Math.ceil(bytes / payload), 0) / frames.length;
  const jsonPieces = Math.ceil(jsonLine / payload);
  line({
    case: `sensor PATCH frames over BLE at MTU ${DEFAULT_ATT_MTU}`,
    unit: 'frames/s',
    ours: round(BLE_NOTIFICATIONS_PER_SECOND / pieces, 1),
    peer: 'JSON line',
    theirs: round(BLE_NOTIFICATIONS_PER_SECOND / jsonPieces, 1),
    ratio: round(jsonPieces / pieces),
    notificationsPerFrame: round(pieces, 2),
    jsonNotifications: jsonPieces,
    assumes: `${BLE.connectionIntervalMs} ms connection interval, ${BLE.notificationsPerEvent} notifications of ${payload} bytes per event`,
  });
}

// ---- fan-out: one dispatch to ten links ------------------------------------------------

{
  // Ten subscribers' links, all aliasing: each writes its own bytes (its own alias), from
  // one encoding of the dispatch shared in the task. The peer is version 1's fan-out:
  // one encoding whose bytes every link shares.
  const links = Array.from({ length: 10 }, () => linkPair().sender);
  const stream = copies(cases()[0]!.dispatch, 1024);
  let i = 0;
  let j = 0;
  const [ours, theirs] = compare(
    () => {
      const d = stream[i++ & 1023]!;
      let bytes = 0;
      for (const link of links) bytes += link.encode(d).length;
      return bytes;
    },
    () => {
      const d = stream[j++ & 1023]!;
      const shared = encodeDispatch(d);
      let bytes = 0;
      for (let k = 0; k < links.length; k++) bytes += shared.length;
      return bytes;
    },
  );
  line({
    case: 'sensor PATCH fan-out to 10 aliasing links',
    unit: 'dispatches/cpu-s',
    ours: Math.round(ours),
    peer: 'one shared encoding (no aliases)',
    theirs: Math.round(theirs),
    ratio: round(ours / theirs),
  });
}

if (sink === 42) console.log('');

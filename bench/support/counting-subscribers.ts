/**
 * Subscribers for the transport bench that count deliveries without decoding them,
 * so the bench process spends next to nothing per delivery and the figure is about
 * the broker. Each one sets up its subscription for real (a BIND answered 200 over
 * TCP; an MQTT 3.1.1 CONNECT/CONNACK and SUBSCRIBE/SUBACK), then only frames:
 *
 * - JSTP over TCP is JSON lines: one `\n` ends each dispatch (JSON text never holds a
 *   raw newline), so a count of 0x0a bytes is a count of complete dispatches.
 * - MQTT: the fixed header of each packet (type nibble, remaining-length varint) is
 *   walked across chunk boundaries; PUBLISH packets (type 3) are counted, their
 *   topic and payload skipped unread.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { serializeDispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { Status } from '../../gateway/jstp/errors.js';

const NEWLINE = 0x0a;

/** A subscriber that counts what it is delivered. */
export interface CountingSubscriber {
  /** Deliveries counted since the subscription took effect. */
  readonly count: number;
  close(): Promise<void>;
}

/** Complete JSON lines in a chunk: its `\n` bytes. */
export function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) n++;
  return n;
}

/** Bytes one read may hand over; the buffer is reused for every read on a socket. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Connects with `onread`: every read lands in one reused buffer and is handed to
 * `reader.onChunk` as a view that is only valid during the call (no allocation, no
 * stream 'data' event per read). The reader is swapped from setup to counting.
 */
function connect(host: string, port: number, timeoutMs: number, reader: { onChunk: (chunk: Buffer) => void }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host,
      port,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (bytes: number, buffer: Uint8Array) => {
          reader.onChunk((buffer as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`cannot connect to ${host}:${port}: timed out`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

function closeSocket(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}

/** Runs `setup` with a deadline; on failure or timeout the socket is destroyed. */
async function withDeadline<T>(socket: net.Socket, what: string, timeoutMs: number, setup: (done: (value: T) => void, fail: (error: Error) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new Error(`${what}: timed out`)), timeoutMs);
    const onClose = (): void => finish(new Error(`${what}: connection closed`));
    const onError = (error: Error): void => finish(new Error(`${what}: ${error.message}`));
    socket.once('close', onClose);
    socket.once('error', onError);
    setup(
      (value) => finish(undefined, value),
      (error) => finish(error),
    );
  });
}

/**
 * A JSTP subscriber over raw TCP: sends a BIND with a transaction and reads (parses)
 * the answers until the transaction ends: 200, then 101 No More Answers, which this
 * gateway sends to peers whose protocol header carries its tag (ours does). The
 * table entry is in place before the 200 is written, and nothing else is sent to
 * this connection before a publish, so from then on every `\n` is one delivery.
 */
export async function jstpCountingSubscriber(host: string, port: number, endpoint: { method: 'PATCH'; resource: string[] }, timeoutMs: number): Promise<CountingSubscriber> {
  const reader = { onChunk: (_chunk: Buffer): void => {} };
  const socket = await connect(host, port, timeoutMs, reader);
  const transactionId = randomUUID();
  const bind = Engine.subscriptionDispatch('BIND', endpoint, 'strict', [transactionId]);
  let count = 0;
  let pending = '';
  await withDeadline<void>(socket, 'BIND at the gateway', timeoutMs, (done, fail) => {
    const statuses: number[] = [];
    const onSetupData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      for (let at = pending.indexOf('\n'); at !== -1; at = pending.indexOf('\n')) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        let answer: { method?: string; resource?: unknown[] };
        try {
          answer = JSON.parse(line) as typeof answer;
        } catch {
          fail(new Error(`BIND: not JSON: ${line.slice(0, 200)}`));
          return;
        }
        if (answer.method !== 'ANSWER' || answer.resource?.[1] !== transactionId) {
          fail(new Error(`BIND: unexpected dispatch before the answer: ${line.slice(0, 200)}`));
          return;
        }
        statuses.push(Number(answer.resource[0]));
        if (statuses[0] !== Status.Ok) {
          fail(new Error(`BIND answered ${statuses[0]}: ${line.slice(0, 200)}`));
          return;
        }
        if (statuses.length === 2) {
          if (statuses[1] !== Status.NoMoreAnswers) {
            fail(new Error(`BIND: expected 101 after 200, got ${statuses[1]}`));
            return;
          }
          if (pending.length > 0) {
            fail(new Error('BIND: bytes after the end of the transaction'));
            return;
          }
          // From here on: count, never decode.
          reader.onChunk = (data) => {
            count += countNewlines(data);
          };
          done();
          return;
        }
      }
    };
    reader.onChunk = onSetupData;
    socket.write(`${serializeDispatch(bind)}\n`);
  });
  socket.on('error', () => {});
  return {
    get count() {
      return count;
    },
    close: () => closeSocket(socket),
  };
}

// ---- MQTT 3.1.1 ---------------------------------------------------------------------------------

const PUBLISH = 3;

/** A remaining length as the MQTT varint (1 to 4 bytes). */
function encodeLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function packet(header: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([header, ...encodeLength(body.length)]), body]);
}

function utf8Field(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** CONNECT, protocol level 4 (MQTT 3.1.1; aedes speaks nothing newer), clean session, no keep-alive. */
export function connectPacket(clientId: string): Buffer {
  const flags = 0x02; // clean session
  const keepAlive = Buffer.from([0, 0]);
  return packet(0x10, Buffer.concat([utf8Field('MQTT'), Buffer.from([4, flags]), keepAlive, utf8Field(clientId)]));
}

/** SUBSCRIBE (fixed header flags 0b0010) for one topic filter at QoS 0. */
export function subscribePacket(packetId: number, topic: string): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  return packet(0x82, Buffer.concat([id, utf8Field(topic), Buffer.from([0])]));
}

/** PUBLISH at QoS 0 (no packet id); for the framing self-test. */
export function publishPacket(topic: string, payload: Buffer): Buffer {
  return packet(0x30, Buffer.concat([utf8Field(topic), payload]));
}

/**
 * Walks MQTT packets across chunks by their fixed header alone: the first byte, the
 * remaining-length varint, then that many bytes skipped. Counts PUBLISH packets;
 * `onPacket`, when set, is handed each whole other packet (used during setup only).
 */
export class MqttPacketCounter {
  publishes = 0;
  /** 0: expecting a first byte; 1: reading the length varint; 2: skipping the body. */
  private state = 0;
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private left = 0;
  /** Body bytes of a non-PUBLISH packet, kept while onPacket is set. */
  private body: Buffer[] = [];

  constructor(public onPacket?: (type: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      if (this.state === 2) {
        const take = Math.min(this.left, end - at);
        // A copy: the chunk's bytes may be reused once this call returns.
        if (this.onPacket && this.type !== PUBLISH) this.body.push(Buffer.from(chunk.subarray(at, at + take)));
        at += take;
        this.left -= take;
        if (this.left === 0) this.finish();
      } else if (this.state === 0) {
        this.type = chunk[at++]! >> 4;
        this.state = 1;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else {
        const byte = chunk[at++]!;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        if (++this.lengthBytes > 4) throw new Error('MQTT: malformed remaining length');
        if ((byte & 0x80) === 0) {
          this.left = this.length;
          this.state = 2;
          if (this.left === 0) this.finish();
        }
      }
    }
  }

  private finish(): void {
    this.state = 0;
    if (this.type === PUBLISH) this.publishes++;
    else if (this.onPacket) {
      const body = Buffer.concat(this.body);
      this.body = [];
      this.onPacket(this.type, body);
    }
  }
}

const CONNACK = 2;
const SUBACK = 9;

/**
 * An MQTT 3.1.1 subscriber over raw TCP: CONNECT, wait for CONNACK (accepted),
 * SUBSCRIBE at QoS 0, wait for SUBACK (granted QoS 0); from then on PUBLISH packets
 * are counted by their fixed header, nothing decoded.
 */
export async function mqttCountingSubscriber(host: string, port: number, topic: string, clientId: string, timeoutMs: number): Promise<CountingSubscriber> {
  const counter = new MqttPacketCounter();
  const socket = await connect(host, port, timeoutMs, { onChunk: (chunk) => counter.push(chunk) });
  await withDeadline<void>(socket, `MQTT subscribe (${clientId})`, timeoutMs, (done, fail) => {
    const packetId = 1;
    counter.onPacket = (type, body) => {
      if (type === CONNACK) {
        if (body.length !== 2 || body[1] !== 0) fail(new Error(`CONNACK refused: return code ${body[1]}`));
        else socket.write(subscribePacket(packetId, topic));
      } else if (type === SUBACK) {
        if (body.length !== 3 || body.readUInt16BE(0) !== packetId || body[2] !== 0) fail(new Error(`SUBACK did not grant QoS 0: ${body.toString('hex')}`));
        else {
          counter.onPacket = undefined;
          done();
        }
      } else fail(new Error(`MQTT: unexpected packet type ${type} during setup`));
    };
    socket.write(connectPacket(clientId));
  });
  if (counter.publishes !== 0) throw new Error('MQTT: PUBLISH before SUBACK');
  socket.on('error', () => {});
  return {
    get count() {
      return counter.publishes;
    },
    close: async () => {
      // DISCONNECT, so the broker ends the session quietly.
      if (!socket.destroyed) socket.write(Buffer.from([0xe0, 0]));
      await closeSocket(socket);
    },
  };
}

/** The ways the self-test cuts a stream: whole, byte by byte, and in two at each offset. */
function cuts(bytes: Buffer): Buffer[][] {
  const all: Buffer[][] = [[bytes], Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1))];
  const step = bytes.length > 1000 ? 97 : 1;
  for (let i = 1; i < bytes.length; i += step) all.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return all;
}

/** Checks both framers on synthetic streams cut at every place; throws if a count is off. */
export function selfTestCounters(): void {
  const lines = Buffer.from(['{"a":1}', '{"b":"x y"}', '{}', `{"c":"${'z'.repeat(300)}"}`].map((l) => `${l}\n`).join(''));
  for (const chunks of cuts(lines)) {
    const n = chunks.reduce((sum, c) => sum + countNewlines(c), 0);
    if (n !== 4) throw new Error(`line counter self-test: counted ${n}, expected 4`);
  }
  const stream = Buffer.concat([
    publishPacket('a/b', Buffer.alloc(0)),
    Buffer.from([0xd0, 0]), // PINGRESP: not counted
    publishPacket('devices/kitchen', Buffer.alloc(200, 0x30)), // two-byte remaining length, body of 0x30 bytes
    publishPacket('t', Buffer.alloc(20_000, 0x30)), // three-byte remaining length
    publishPacket('t', Buffer.from('{"value":21.5}\n')),
  ]);
  for (const chunks of cuts(stream)) {
    const counter = new MqttPacketCounter();
    for (const c of chunks) counter.push(c);
    if (counter.publishes !== 4) throw new Error(`MQTT counter self-test: counted ${counter.publishes}, expected 4`);
  }
}

/**
 * What the uplink tests share: a far end (a real Pasarela gateway with the dedup
 * plugin) that records every forwarded dispatch as it arrived (before dedup) and as
 * its subscribers got it (after), and a history checker for what it recorded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway, type GatewayPlugin } from '../../gateway/gateway.js';
import type { Channel } from '../../gateway/jstp/channel.js';
import { dedupPlugin } from '../../gateway/uplinks/dedup.js';
import { idOf } from '../../gateway/uplinks/dispatch-id.js';

export interface Arrival {
  /** [sender, boot, seq] */
  readonly id: readonly [string, number, number];
  readonly body: unknown;
  /** Which connection it came over (one per link session). */
  readonly channel: string;
}

export interface FarEnd {
  readonly gateway: Gateway;
  readonly port: number;
  /** Everything with an id, as it arrived. */
  readonly raw: Arrival[];
  /** What the far end's subscribers got (after dedup). */
  readonly delivered: Arrival[];
  /** Receipts it answered: the sequence it gave. */
  readonly receipts: number[];
  /** The channel of the last forwarded dispatch: how the far end calls back into the gateway. */
  lastChannel: Channel | undefined;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Records log lines as objects. */
export function recordingPino(into: Record<string, unknown>[], level = 'debug') {
  return pino({ level }, new Writable({ write: (chunk, _encoding, done) => (into.push(JSON.parse(String(chunk)) as Record<string, unknown>), done()) }));
}

const channelNames = new WeakMap<Channel, string>();
let channelCount = 0;

function channelName(channel: Channel | undefined): string {
  if (!channel) return 'local';
  let name = channelNames.get(channel);
  if (!name) {
    name = `${channel.id}#${++channelCount}`;
    channelNames.set(channel, name);
  }
  return name;
}

/**
 * A far end on `port` (0: any) that records forwarded dispatches matching `pattern`
 * (default `PATCH devices/...`); the `before` plugins' stages run before its dedup.
 */
export async function startFarEnd(options: { port?: number; httpPort?: number; before?: GatewayPlugin[]; resource?: string[]; method?: string } = {}): Promise<FarEnd> {
  const raw: Arrival[] = [];
  const delivered: Arrival[] = [];
  const receipts: number[] = [];
  const logs: Record<string, unknown>[] = [];
  const far: { lastChannel: Channel | undefined } = { lastChannel: undefined };
  // Before dedup (plugins start, and add stages, in order): every arrival as it came.
  const recorder: GatewayPlugin = {
    name: 'recorder',
    async start({ engine }) {
      const unuse = engine.use({
        name: 'record-raw',
        inbound(dispatch, from) {
          const id = idOf(dispatch);
          if (id && from) {
            raw.push({ id, body: dispatch.body, channel: channelName(from) });
            far.lastChannel = from;
          }
          return dispatch;
        },
        outbound(dispatch) {
          const resource = dispatch.resource;
          if (dispatch.method === 'ANSWER' && resource?.[0] === 200) {
            const body = dispatch.body as { seq?: unknown } | undefined;
            if (typeof body?.seq === 'number') receipts.push(body.seq);
          }
          return dispatch;
        },
      });
      const unbind = engine.bind({ method: (options.method ?? 'PATCH') as 'PATCH', resource: options.resource ?? ['devices', '...'] }, (incoming) => {
        const id = idOf(incoming.dispatch);
        if (id) delivered.push({ id, body: incoming.body, channel: channelName(incoming.from) });
      });
      return () => {
        unbind();
        unuse();
      };
    },
  };
  const gateway = await startGateway(
    parseConfig({ listen: { host: '127.0.0.1', tcp: options.port ?? 0, http: options.httpPort ?? 0 }, log: { level: 'debug' } }, 'far end'),
    { plugins: [recorder, ...(options.before ?? []), dedupPlugin()], logger: recordingPino(logs) },
  );
  return Object.assign(far, { gateway, port: gateway.ports.tcp, raw, delivered, receipts, logs, close: () => gateway.close() }) as FarEnd;
}

export interface HistoryCheck {
  /** Bodies that the producer saw accepted, in the order it produced them. */
  readonly accepted: readonly number[];
  readonly raw: readonly Arrival[];
  readonly delivered: readonly Arrival[];
}

/** What the checker found, for the report. */
export interface HistoryFigures {
  readonly accepted: number;
  readonly arrived: number;
  readonly duplicatesOnTheWire: number;
  readonly sessions: number;
  readonly extra: number;
}

const idKey = (id: readonly [string, number, number]): string => id.join('/');

function compareIds(a: readonly [string, number, number], b: readonly [string, number, number]): number {
  return a[1] - b[1] || a[2] - b[2];
}

/**
 * The history checker. Bodies are the producer's sequence numbers (growing).
 * - After dedup: no id twice, ids and bodies strictly increasing (order kept), and every
 *   accepted body among them.
 * - On the wire: within a link session ids only grow after the session's opening
 *   replay; a duplicate only appears in that replay (what was in flight when the
 *   previous session or gateway died), and dedup dropped every one of them.
 */
export function checkHistory({ accepted, raw, delivered }: HistoryCheck): HistoryFigures {
  const seen = new Set<string>();
  for (const arrival of delivered) {
    const key = idKey(arrival.id);
    expect(seen.has(key), `delivered twice: ${key}`).toBe(false);
    seen.add(key);
  }
  for (let i = 1; i < delivered.length; i++) {
    const previous = delivered[i - 1]!;
    const current = delivered[i]!;
    expect(compareIds(previous.id, current.id), `ids out of order: ${idKey(previous.id)} then ${idKey(current.id)}`).toBeLessThan(0);
    expect(current.body as number, `bodies out of order: ${String(previous.body)} then ${String(current.body)}`).toBeGreaterThan(previous.body as number);
  }
  const bodies = new Set(delivered.map((arrival) => arrival.body));
  const lost = accepted.filter((body) => !bodies.has(body));
  expect(lost, `accepted and never delivered (${lost.length} of ${accepted.length})`).toEqual([]);

  const sessions = new Map<string, Arrival[]>();
  for (const arrival of raw) {
    const list = sessions.get(arrival.channel) ?? [];
    list.push(arrival);
    sessions.set(arrival.channel, list);
  }
  const wire = new Set<string>();
  let duplicates = 0;
  for (const [channel, arrivals] of sessions) {
    let replaying = true;
    for (let i = 0; i < arrivals.length; i++) {
      const key = idKey(arrivals[i]!.id);
      const duplicate = wire.has(key);
      if (duplicate) {
        duplicates++;
        expect(replaying, `duplicate ${key} in session ${channel} after new dispatches had come`).toBe(true);
      } else {
        replaying = false;
      }
      if (i > 0) expect(compareIds(arrivals[i - 1]!.id, arrivals[i]!.id), `session ${channel} went back: ${key}`).toBeLessThan(0);
      wire.add(key);
    }
  }
  expect(wire.size, 'every id on the wire was delivered once').toBe(delivered.length);
  return { accepted: accepted.length, arrived: delivered.length, duplicatesOnTheWire: duplicates, sessions: sessions.size, extra: delivered.length - accepted.length };
}

/** Polls an async `check` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A temporary folder for a test file: made before its tests, removed after. Call at the top level. */
export function temporaryFolder(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('temporaryFolder: used outside a test');
    return dir;
  };
}

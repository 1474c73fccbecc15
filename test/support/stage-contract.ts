/**
 * The contract every pipeline stage keeps, run against a real engine with recording
 * channels. A stage declares what it does to a dispatch (passes it, changes it,
 * drops it, answers it, or fails) and the suite checks the engine does exactly that,
 * inbound and outbound, for local and remote dispatches, with the stage's input
 * frozen (a stage never changes a dispatch in place) and with order kept per channel.
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from '../../gateway/jstp/channel.js';
import { createDispatch, serializeDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine, type Stage } from '../../gateway/jstp/engine.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import { until } from './until.js';

export type StageOutcome =
  | { kind: 'pass' }
  | { kind: 'change'; check(dispatch: Dispatch): void }
  | { kind: 'drop' }
  | { kind: 'answer'; status: number }
  /** Throws or rejects: logged with the stage's name, the dispatch dropped. */
  | { kind: 'fail' };

export interface StageContractOptions {
  /** A fresh stage for each test. */
  make(): Stage;
  outcome: StageOutcome;
}

/** A channel that records what it is sent, and the exact text a JSON wire would write. */
export class RecordingChannel implements Channel {
  readonly sent: Dispatch[] = [];
  readonly texts: string[] = [];
  constructor(readonly id: string) {}
  send(dispatch: Dispatch, text?: string): void {
    const written = text ?? serializeDispatch(dispatch);
    this.texts.push(written);
    this.sent.push(JSON.parse(written) as Dispatch);
  }
}

/** A logger that keeps the error and warning lines. */
export function recordingLogger(): Logger & { errors: Array<Record<string, unknown>>; warnings: Array<Record<string, unknown>> } {
  const errors: Array<Record<string, unknown>> = [];
  const warnings: Array<Record<string, unknown>> = [];
  const logger = {
    errors,
    warnings,
    fatal() {},
    error(fields: object | string) {
      if (typeof fields === 'object') errors.push(fields as Record<string, unknown>);
    },
    warn(fields: object | string) {
      if (typeof fields === 'object') warnings.push(fields as Record<string, unknown>);
    },
    info() {},
    debug() {},
    trace() {},
    child: () => logger,
  };
  return logger;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * Freezes what the stage under test gets, so a change in place throws. In place and
 * the same object: the engine changes no dispatch after building it, and a copy would
 * not be "unchanged" any more.
 */
const freezer: Stage = {
  name: 'freezer',
  inbound: (dispatch) => deepFreeze(dispatch),
  outbound: (dispatch) => deepFreeze(dispatch),
};

function bindText(method: string, resource: string[]): string {
  return JSON.stringify({ protocol: ['JSTP', '0.5'], method: 'BIND', token: [], timestamp: 1, endpoint: { method, resource } });
}

/** A one-line JSON PATCH as a publisher would send it. */
function patchText(n: number): string {
  return JSON.stringify({ protocol: ['JSTP', '0.5'], method: 'PATCH', token: [], resource: ['devices', 'd', 'properties', 't'], timestamp: 5, body: { value: n } });
}

function requestText(transactionId: string): string {
  return JSON.stringify({ protocol: ['JSTP', '0.6'], method: 'GET', token: [transactionId], resource: ['gateway'], timestamp: 5 });
}

/**
 * Binds `subscriber` and waits until the stage has decided on the BIND: channels are
 * not ordered against each other, so a PATCH from another channel could otherwise
 * overtake an async stage's BIND.
 */
async function subscribe(engine: Engine, subscriber: Channel, method: string): Promise<void> {
  const { subscriptions, stopped } = engine.stats();
  engine.receive(JSON.parse(bindText(method, ['devices', '...'])), subscriber);
  await until(() => engine.stats().subscriptions > subscriptions || engine.stats().stopped > stopped, 'the stage to pass or stop the BIND', 20_000);
}

function receive(engine: Engine, text: string, from: Channel): void {
  engine.receive(JSON.parse(text), from, text);
}

/** The statuses a channel was answered with, 101 left out. */
function statuses(channel: RecordingChannel): number[] {
  return channel.sent.filter((d) => d.method === 'ANSWER').map((d) => d.resource![0] as number).filter((s) => s !== 101);
}

/** Lets async stages settle: a few macrotasks. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

export function stageContract(name: string, options: StageContractOptions): void {
  const { outcome } = options;
  const passes = outcome.kind === 'pass' || outcome.kind === 'change';

  function rig(direction: 'inbound' | 'outbound') {
    const logger = recordingLogger();
    const engine = new Engine({ logger, answerTimeoutMs: 2_000 });
    const stage = options.make();
    // One side at a time; the freezer runs just before it (outbound runs in reverse).
    if (direction === 'inbound') {
      engine.use({ name: freezer.name, inbound: freezer.inbound! });
      engine.use({ name: stage.name, inbound: stage.inbound?.bind(stage) });
    } else {
      engine.use({ name: stage.name, outbound: stage.outbound?.bind(stage) });
      engine.use({ name: freezer.name, outbound: freezer.outbound! });
    }
    const subscriber = new RecordingChannel('subscriber');
    const publisher = new RecordingChannel('publisher');
    return { engine, logger, stage, subscriber, publisher };
  }

  describe(`stage contract: ${name}`, () => {
    it('inbound: a dispatch from a channel reaches subscribers as the verdict says', async () => {
      const { engine, logger, subscriber, publisher } = rig('inbound');
      const seen: Dispatch[] = [];
      engine.bind({ method: 'PATCH', resource: ['devices', '...'] }, (incoming) => {
        seen.push(incoming.dispatch);
      });
      await subscribe(engine, subscriber, 'PATCH');
      const text = patchText(1);
      expect(() => receive(engine, text, publisher)).not.toThrow();
      await settle();
      if (!passes) {
        expect(seen).toHaveLength(0);
        expect(subscriber.sent).toHaveLength(0);
        expect(engine.stats().stopped).toBeGreaterThan(0);
        if (outcome.kind === 'fail') expect(logger.errors.some((e) => e.stage === options.make().name)).toBe(true);
        return;
      }
      await until(() => seen.length === 1 && subscriber.sent.length === 1, 'the PATCH delivered', 20_000);
      if (outcome.kind === 'pass') {
        // Relayed as the text it came in, with this engine added to its `via` trace.
        expect(subscriber.texts).toEqual([`${text.slice(0, -1)},"via":["${engine.id}"]}`]);
        expect(JSON.parse(serializeDispatch(seen[0]!))).toEqual(JSON.parse(text));
      } else {
        outcome.check(seen[0]!);
        outcome.check(subscriber.sent[0]!);
        // Changed on the way: the original text must not be relayed.
        expect(subscriber.texts[0]).not.toBe(text);
      }
      expect(logger.errors).toEqual([]);
    });

    it('inbound: a request from a channel is served, dropped or answered by the stage', async () => {
      const { engine, publisher } = rig('inbound');
      engine.bind({ method: 'GET', resource: ['gateway'] }, () => 'served');
      receive(engine, requestText('tx-1'), publisher);
      await settle();
      if (passes) expect(statuses(publisher)).toEqual([200]);
      else if (outcome.kind === 'answer') expect(statuses(publisher)).toEqual([outcome.status]);
      else expect(statuses(publisher)).toEqual([]);
    });

    it('inbound: local emits and requests pass the stage too', async () => {
      const { engine } = rig('inbound');
      const seen: unknown[] = [];
      engine.bind({ method: 'GET', resource: ['local'] }, (incoming) => {
        seen.push(incoming.body);
        return 'ok';
      });
      engine.bind({ method: 'PATCH', resource: ['local'] }, (incoming) => {
        seen.push(incoming.body);
      });
      engine.emit('PATCH', ['local'], { n: 1 });
      const reply = engine.get(['local'], { n: 2 });
      const settled = await reply.all().then((answers) => answers.map((a) => a.status), (error: Error) => error);
      if (passes) {
        expect(seen).toHaveLength(2);
        expect(settled).toEqual([200]);
      } else {
        expect(seen).toHaveLength(0);
        if (outcome.kind === 'answer') expect(settled).toEqual([outcome.status]);
        else expect(settled).toBeInstanceOf(Error);
      }
    });

    it('outbound: what goes to a subscriber follows the verdict, and a refused request is answered', async () => {
      const { engine, subscriber, publisher } = rig('outbound');
      await subscribe(engine, subscriber, '*');
      receive(engine, patchText(7), publisher);
      await settle();
      if (passes) {
        expect(subscriber.sent.filter((d) => d.method === 'PATCH')).toHaveLength(1);
        if (outcome.kind === 'change') outcome.check(subscriber.sent.find((d) => d.method === 'PATCH')!);
      } else {
        expect(subscriber.sent.filter((d) => d.method === 'PATCH')).toHaveLength(0);
      }
      // A request fanned out to the subscriber: the stage's verdict on that copy.
      const reply = engine.request('GET', ['devices', 'x']);
      await settle();
      const copies = subscriber.sent.filter((d) => d.method === 'GET');
      if (passes) {
        expect(copies).toHaveLength(1);
        const [transactionId, triggeringId] = copies[0]!.token as [string, string];
        engine.receive({ protocol: ['JSTP', '0.5'], method: 'ANSWER', token: [], resource: [200, transactionId, triggeringId], timestamp: 1, body: 'hi' }, subscriber);
        expect((await reply.all()).map((a) => a.status)).toEqual([200]);
      } else if (outcome.kind === 'answer') {
        expect(copies).toHaveLength(0);
        expect((await reply.all()).map((a) => a.status)).toEqual([outcome.status]);
      } else {
        // Dropped on the way to its only subscriber: nothing could answer it.
        expect(copies).toHaveLength(0);
        expect((await reply.all()).map((a) => a.status)).toEqual([404]);
      }
    });

    it('keeps the order of one channel over many dispatches', async () => {
      const { engine, subscriber, publisher } = rig('inbound');
      await subscribe(engine, subscriber, 'PATCH');
      for (let n = 0; n < 200; n++) receive(engine, patchText(n), publisher);
      if (!passes) {
        await settle();
        expect(subscriber.sent).toHaveLength(0);
        return;
      }
      await until(() => subscriber.sent.length === 200, 'every PATCH delivered', 20_000);
      expect(subscriber.sent.map((d) => (d.body as { value: number }).value)).toEqual([...Array(200).keys()]);
    });

    it('never crashes the engine, which keeps working after the stage', async () => {
      const { engine, publisher } = rig('inbound');
      const garbage: unknown[] = [null, 42, 'text', {}, { method: 'PATCH' }, createDispatch('PATCH', ['x'])];
      for (const input of garbage) expect(() => engine.receive(input, publisher)).not.toThrow();
      await settle();
      expect(engine.isClosed).toBe(false);
      engine.close();
    });
  });
}

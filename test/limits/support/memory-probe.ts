/**
 * Run by memory.test.ts in a child process of its own, with --expose-gc: binds many
 * subscriptions the way peers do (BIND lines received from channels, through the
 * limits stage) and prints, as one JSON line, the heap they retain with garbage
 * collection forced, against the bytes those BINDs took on the wire.
 *
 * Two sets: random patterns of every shape up to the default limits (32 elements,
 * 1 KiB), and small device subscriptions like a dashboard's.
 */
import type { Channel } from '../../../gateway/jstp/channel.js';
import { serializeDispatch, type Dispatch } from '../../../gateway/jstp/dispatch.js';
import { Engine } from '../../../gateway/jstp/engine.js';
import { dispatchLimits } from '../../../gateway/limits/dispatch-limits.js';
import { defaultLimits } from '../../../gateway/limits/schema.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heap(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

let seed = Number(process.argv[2] ?? 1) >>> 0 || 1;
function random(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
function word(maxLength: number): string {
  let text = '';
  for (let length = 1 + random(maxLength); length > 0; length--) text += ALPHABET[random(ALPHABET.length)];
  return text;
}

const limits = defaultLimits();

/** A legal pattern of 1-32 elements within 1 KiB: literals, `*`, `:name`, `...` (never two in a row, nor `*` after one). */
function randomPattern(): string[] {
  const length = 1 + random(limits.maxResourceElements);
  const pattern: string[] = [];
  let bytes = 0;
  let names = 0;
  for (let i = 0; i < length; i++) {
    const previous = pattern[pattern.length - 1];
    const roll = random(10);
    let element: string;
    if (roll === 0 && previous !== '...') element = '...';
    else if (roll === 1 && previous !== '...') element = '*';
    else if (roll === 2) element = `:n${names++}`;
    else element = word(Math.max(1, Math.floor((limits.maxResourceBytes - bytes) / (length - i)) * 2 - 1));
    if (bytes + element.length > limits.maxResourceBytes) break;
    bytes += element.length;
    pattern.push(element);
  }
  return pattern.length > 0 ? pattern : ['x'];
}

class Quiet implements Channel {
  constructor(readonly id: string) {}
  send(): void {}
}

/** Binds `count` patterns from channels of at most `perChannel` subscriptions; returns the wire bytes and the channels. */
function bindAll(engine: Engine, count: number, pattern: (i: number) => string[]): { wire: number; channels: Channel[] } {
  const channels: Channel[] = [];
  let wire = 0;
  for (let i = 0; i < count; i++) {
    if (i % limits.maxSubscriptionsPerConnection === 0) channels.push(new Quiet(`peer ${channels.length}`));
    const dispatch: Dispatch = { protocol: ['JSTP', '0.5', 'pasarela'], method: 'BIND', endpoint: { method: 'PATCH', resource: pattern(i) }, timestamp: Date.now() };
    const text = serializeDispatch(dispatch);
    const before = engine.stats().subscriptions;
    engine.receive(JSON.parse(text), channels.at(-1)!, text);
    // A pattern drawn twice for one channel binds nothing new: its bytes do not count.
    if (engine.stats().subscriptions > before) wire += Buffer.byteLength(text) + 1;
  }
  return { wire, channels };
}

function measure(count: number, pattern: (i: number) => string[]): { subscriptions: number; wireBytes: number; retainedBytes: number; afterMatchingBytes: number } {
  const engine = new Engine();
  engine.use(dispatchLimits({ limits: { ...limits, maxSubscriptions: count + 10 }, engine, report: { exceeded: () => {} } }));
  const before = heap();
  const { wire, channels } = bindAll(engine, count, pattern);
  const retained = heap() - before;
  // Matching must not build anything that stays: a few hundred dispatches through every kind of pattern.
  const resource = Array.from({ length: limits.maxResourceElements }, (_, i) => (i % 3 === 0 ? 'a' : word(8)));
  for (let i = 0; i < 300; i++) engine.emit('PATCH', resource.slice(0, 1 + (i % resource.length)));
  const afterMatching = heap() - before;
  const subscriptions = engine.stats().subscriptions;
  // Keep everything alive until measured.
  if (channels.length === 0) throw new Error('no channels');
  return { subscriptions, wireBytes: wire, retainedBytes: retained, afterMatchingBytes: afterMatching };
}

const large = measure(5_000, () => randomPattern());
const small = measure(5_000, (i) => ['devices', `sensor-${i}`, 'properties', 'temperature']);
process.stdout.write(`${JSON.stringify({ large, small })}\n`);

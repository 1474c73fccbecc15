/**
 * Fan-out over TCP: one publisher sends PATCH dispatches through the gateway (engine +
 * TCP transport, in a process of its own) to 1 and to 10 subscribers, each on its own
 * connection. The same fan-out runs through mosquitto and aedes (each in its own
 * process): QoS 0, the same payload (the dispatch body) on the topic named like the
 * resource.
 *
 * What is measured is the broker. Publisher and subscribers share this process, so
 * subscribers that decoded every delivery (a full JSTP engine: JSON.parse and
 * validation per dispatch; mqtt.js: packet parsing per message) made this process
 * the bottleneck, and delivered/s compared client libraries more than brokers. So
 * the subscribers here (bench/support/counting-subscribers.ts) subscribe for real and
 * then only count, the same way for every contender: ours BIND over raw TCP, wait for
 * the 200 answer (and the 101 that ends the transaction), then count `\n` bytes, one
 * per JSON-line dispatch; the MQTT ones send a raw MQTT 3.1.1 CONNECT and SUBSCRIBE,
 * wait for CONNACK and SUBACK, then count PUBLISH packets by walking fixed headers
 * (type nibble, remaining-length varint) across chunks, payloads unread. The
 * publishers are real clients as before: an engine writing dispatches as JSON lines
 * for ours, an mqtt.js client publishing at QoS 0 for the brokers. At start-up the
 * counters are checked: on synthetic streams cut at every place, then against each
 * broker (a burst of SANITY_BURST messages must be counted exactly that many times
 * by every subscriber, nothing missing, nothing extra), and the bench stops if not.
 *
 * The publisher keeps a bounded window of messages in flight, driven by the counted
 * deliveries (no broker ever queues without bound, and none drops QoS 0 messages for
 * a lagging subscriber); the figure is deliveries per second. Each contender runs
 * ROUNDS timed rounds after a warm-up, alternating; the best round counts.
 *
 * The gateway runs twice, in two processes: with no pipeline stage, and with one
 * pass-through stage (its lines say "1 pass-through stage" and carry `vsNoStage`, its
 * share of the no-stage figure from the same rounds; the target is at least 0.9).
 *
 * Prints one JSON line per case and peer, e.g.
 * {"bench":"transport","case":"10 subscribers vs mosquitto","unit":"delivered/s","ours":N,"peer":"mosquitto","theirs":M,"ratio":N/M}
 * and, from the same rounds, deliveries per CPU second of the broker process alone
 * (unit "delivered/cpu-s", read from /proc), which no client-side cost can cap.
 *
 * Needs the Debian package `mosquitto` (started here on a free loopback port).
 * Run: npm run bench -- transport   (or: npx tsx bench/transport.ts)
 * BENCH_ROUND_MS sets the round length; BENCH_DEBUG=1 prints every round to stderr,
 * with the share of a core the broker and this process used in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { createDispatch } from '../gateway/jstp/dispatch.js';
import { Engine } from '../gateway/jstp/engine.js';
import { dialTcp, TcpTransport } from '../gateway/transports/tcp.js';
import { jstpCountingSubscriber, mqttCountingSubscriber, selfTestCounters, type CountingSubscriber } from './support/counting-subscribers.js';

const HOST = '127.0.0.1';
const FANOUTS = [1, 10];
const ROUNDS = 3;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const WARMUP_MS = 500;
/** Messages the publisher may have ahead of its slowest subscriber. */
const WINDOW = 1000;
/** Messages published per turn of the event loop, at most. */
const BURST = 100;
/** Hard caps so no loop can run away. */
const MAX_MESSAGES_PER_ROUND = 20_000_000;
const STALL_MS = 2000;
/** The start-up check of the counters: a burst this long (within WINDOW), then a quiet spell. */
const SANITY_BURST = 500;
const SANITY_QUIET_MS = 200;
const START_LIMIT_MS = 10_000;

const RESOURCE = ['devices', 'kitchen', 'properties', 'temperature'];
const TOPIC = RESOURCE.join('/');
const BODY = { value: 21.5, unit: 'celsius', at: 1_700_000_000_000 };
const PAYLOAD = Buffer.from(JSON.stringify(BODY));

const self = fileURLToPath(import.meta.url);

// ---- broker processes ------------------------------------------------------------------------

/** `--serve pasarela|pasarela-stage|aedes`: runs one server on a free port, prints it, stops when stdin closes. */
async function serve(kind: string): Promise<void> {
  let port: number;
  let stop: () => Promise<void>;
  if (kind === 'pasarela' || kind === 'pasarela-stage') {
    const engine = new Engine();
    if (kind === 'pasarela-stage') engine.use({ name: 'pass-through', inbound: (d) => d, outbound: (d) => d });
    const transport = new TcpTransport({ engine, host: HOST, port: 0 });
    port = (await transport.listen()).port;
    stop = async () => {
      await transport.close();
      engine.close();
    };
  } else if (kind === 'aedes') {
    const { Aedes } = await import('aedes');
    const broker = await Aedes.createBroker();
    const server = net.createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    port = (server.address() as net.AddressInfo).port;
    stop = async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  } else {
    throw new Error(`unknown server ${kind}`);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void stop().finally(() => process.exit(0));
  });
}

interface Broker {
  name: string;
  port: number;
  process: ChildProcess;
}

/** Starts this script as a server child (with the same loader flags) and reads its port. */
async function startChild(kind: string): Promise<Broker> {
  const child = spawn(process.execPath, [...process.execArgv, self, '--serve', kind], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start in time`)), START_LIMIT_MS);
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
  return { name: kind, port, process: child };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, what: string): Promise<void> {
  const deadline = performance.now() + START_LIMIT_MS;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: HOST, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`${what} is not listening on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startMosquitto(dir: string): Promise<Broker> {
  const port = await freePort();
  const config = path.join(dir, 'mosquitto.conf');
  // Root drops to the mosquitto user unless told otherwise; no persistence, no log file.
  writeFileSync(
    config,
    [`listener ${port} ${HOST}`, 'allow_anonymous true', 'user root', 'persistence false', 'log_dest none', 'max_queued_messages 100000', ''].join('\n'),
  );
  // Its stderr is kept for the error message only (it warns about running as root).
  const child = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start mosquitto (apt-get install mosquitto): ${error.message}`)));
    child.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}: ${stderr.trim()}`)));
  });
  await Promise.race([waitForPort(port, 'mosquitto'), failed]);
  failed.catch(() => {});
  return { name: 'mosquitto', port, process: child };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.stdin) child.stdin.end();
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// ---- contenders ---------------------------------------------------------------------------------

/** A publisher and its subscribers, connected and subscribed. */
interface Setup {
  publish(): void;
  /** Deliveries so far, summed over subscribers. */
  delivered(): number;
  /** Deliveries so far, per subscriber. */
  counts(): number[];
  close(): Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Our contender: subscribers BIND over raw TCP and count `\n` bytes; the publisher is
 * an engine of its own that dials the gateway and sends PATCH dispatches (JSON lines).
 */
async function jstpSetup(port: number, fanout: number): Promise<Setup> {
  const subscribers: CountingSubscriber[] = [];
  for (let i = 0; i < fanout; i++) {
    subscribers.push(await jstpCountingSubscriber(HOST, port, { method: 'PATCH', resource: RESOURCE }, START_LIMIT_MS));
  }
  const engine = new Engine();
  const publisher = await dialTcp(HOST, port, { engine });
  return {
    publish: () => publisher.send(createDispatch('PATCH', RESOURCE, { body: BODY })),
    delivered: () => sum(subscribers),
    counts: () => subscribers.map((s) => s.count),
    close: async () => {
      for (const subscriber of subscribers) await subscriber.close();
      publisher.close();
      await publisher.closed;
      engine.close();
    },
  };
}

/**
 * An MQTT contender: subscribers CONNECT and SUBSCRIBE over raw TCP and count PUBLISH
 * packets by their fixed header; the publisher is an mqtt.js client at QoS 0.
 */
async function mqttSetup(port: number, fanout: number): Promise<Setup> {
  const subscribers: CountingSubscriber[] = [];
  for (let i = 0; i < fanout; i++) {
    subscribers.push(await mqttCountingSubscriber(HOST, port, TOPIC, `sub-${i}-${process.pid}`, START_LIMIT_MS));
  }
  // aedes speaks MQTT 3.1.1 only: use it for every broker.
  const publisher = await mqtt.connectAsync(`mqtt://${HOST}:${port}`, {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: START_LIMIT_MS,
    clientId: `pub-${process.pid}`,
  });
  return {
    publish: () => void publisher.publish(TOPIC, PAYLOAD, { qos: 0 }),
    delivered: () => sum(subscribers),
    counts: () => subscribers.map((s) => s.count),
    close: async () => {
      for (const subscriber of subscribers) await subscriber.close();
      await publisher.endAsync();
    },
  };
}

function sum(subscribers: readonly CountingSubscriber[]): number {
  let total = 0;
  for (const subscriber of subscribers) total += subscriber.count;
  return total;
}

/**
 * Start-up check of the counters against a real broker: a burst of SANITY_BURST
 * messages must be counted exactly SANITY_BURST times by every subscriber (none
 * missing, none extra, once the stream has been quiet for SANITY_QUIET_MS).
 */
async function checkCounts(name: string, setup: Setup): Promise<void> {
  const before = setup.counts();
  for (let i = 0; i < SANITY_BURST; i++) setup.publish();
  const expected = before.length * SANITY_BURST;
  const deadline = performance.now() + STALL_MS;
  while (setup.delivered() - sumOf(before) < expected && performance.now() < deadline) await nextTurn();
  // Wait for a quiet spell, so that extra counts would show.
  await new Promise((resolve) => setTimeout(resolve, SANITY_QUIET_MS));
  const got = setup.counts().map((c, i) => c - before[i]!);
  if (got.some((n) => n !== SANITY_BURST)) {
    throw new Error(`transport bench: ${name} counted [${got.join(', ')}] for a burst of ${SANITY_BURST} to each of ${got.length} subscribers`);
  }
  if (process.env.BENCH_DEBUG) process.stderr.write(`counts checked: ${name}, ${got.length} x ${SANITY_BURST}\n`);
}

const sumOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** CPU seconds (user + system) a process has used, from /proc; undefined off Linux. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

interface RoundResult {
  /** Deliveries per second. */
  rate: number;
  /** Deliveries per CPU second of the broker process, when it can be read. */
  perCpu: number | undefined;
  /** Share of one core used by the broker and by this (client) process during the round. */
  brokerLoad: number | undefined;
  clientLoad: number;
}

/**
 * Publishes for `ms`, never more than WINDOW messages ahead of the deliveries, and
 * returns deliveries per second. A stall (a dropped message) ends the round early.
 */
async function round(setup: Setup, fanout: number, ms: number, brokerPid: number | undefined): Promise<RoundResult> {
  const base = setup.delivered();
  const cpuBefore = cpuSeconds(brokerPid);
  const ownBefore = process.cpuUsage();
  let sent = 0;
  let lastProgress = performance.now();
  let lastDelivered = base;
  const start = performance.now();
  let now = start;
  while (now - start < ms && sent < MAX_MESSAGES_PER_ROUND) {
    const delivered = setup.delivered() - base;
    const ahead = sent - Math.floor(delivered / fanout);
    for (let i = ahead, n = 0; i < WINDOW && n < BURST; i++, n++) {
      setup.publish();
      sent++;
    }
    await nextTurn();
    now = performance.now();
    const total = setup.delivered();
    if (total !== lastDelivered) {
      lastDelivered = total;
      lastProgress = now;
    } else if (now - lastProgress > STALL_MS) {
      process.stderr.write(`transport bench: deliveries stalled at ${total - base} of ${sent * fanout}\n`);
      break;
    }
  }
  const delivered = setup.delivered() - base;
  const seconds = (now - start) / 1000;
  const cpuAfter = cpuSeconds(brokerPid);
  const own = process.cpuUsage(ownBefore);
  // Let what is in flight arrive before the next round starts.
  const deadline = performance.now() + STALL_MS;
  while (setup.delivered() - base < sent * fanout && performance.now() < deadline) await nextTurn();
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  return {
    rate: delivered / seconds,
    perCpu: cpu ? delivered / cpu : undefined,
    brokerLoad: cpu === undefined ? undefined : cpu / seconds,
    clientLoad: (own.user + own.system) / 1e6 / seconds,
  };
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-'));
  const brokers: Broker[] = [];
  // The framers first, on streams cut at every place; then each setup against its broker.
  selfTestCounters();
  try {
    const gateway = await startChild('pasarela');
    brokers.push(gateway);
    const staged = await startChild('pasarela-stage');
    brokers.push(staged);
    const mosquitto = await startMosquitto(dir);
    brokers.push(mosquitto);
    const aedes = await startChild('aedes');
    brokers.push(aedes);
    const peers = [mosquitto, aedes];

    for (const fanout of FANOUTS) {
      const contenders = [
        { broker: gateway, setup: await jstpSetup(gateway.port, fanout) },
        { broker: staged, setup: await jstpSetup(staged.port, fanout) },
        ...(await Promise.all(peers.map(async (peer) => ({ broker: peer, setup: await mqttSetup(peer.port, fanout) })))),
      ];
      for (const { broker, setup } of contenders) await checkCounts(`${broker.name}, ${fanout} subscriber${fanout === 1 ? '' : 's'}`, setup);
      const best = new Map<string, { rate: number; perCpu: number }>(contenders.map((c) => [c.broker.name, { rate: 0, perCpu: 0 }]));
      for (const { broker, setup } of contenders) await round(setup, fanout, WARMUP_MS, broker.process.pid);
      // Alternating rounds, best kept: other load on the machine hits every contender alike.
      for (let r = 0; r < ROUNDS; r++) {
        for (const { broker, setup } of contenders) {
          globalThis.gc?.();
          const result = await round(setup, fanout, ROUND_MS, broker.process.pid);
          if (process.env.BENCH_DEBUG) process.stderr.write(`${fanout} ${broker.name} ${Math.round(result.rate)}/s ${Math.round(result.perCpu ?? 0)}/cpu-s, cores: broker ${round2(result.brokerLoad ?? NaN)} bench ${round2(result.clientLoad)}\n`);
          const kept = best.get(broker.name)!;
          kept.rate = Math.max(kept.rate, result.rate);
          kept.perCpu = Math.max(kept.perCpu, result.perCpu ?? 0);
        }
      }
      for (const { setup } of contenders) await setup.close();
      const plain = best.get(gateway.name)!;
      for (const variant of [gateway, staged]) {
        const ours = best.get(variant.name)!;
        const withStage = variant === staged;
        const label = `${fanout} subscriber${fanout === 1 ? '' : 's'}${withStage ? ', 1 pass-through stage' : ''}`;
        const share = withStage ? { vsNoStage: round2(ours.rate / plain.rate) } : {};
        for (const peer of peers) {
          const theirs = best.get(peer.name)!;
          print({
            bench: 'transport',
            case: `${label} vs ${peer.name}`,
            unit: 'delivered/s',
            ours: Math.round(ours.rate),
            peer: peer.name,
            theirs: Math.round(theirs.rate),
            ratio: round2(ours.rate / theirs.rate),
            ...share,
          });
        }
        // The same runs seen from the broker: deliveries per second of its own CPU time,
        // which the client side (shared by all contenders) does not cap.
        if (ours.perCpu === 0) continue;
        for (const peer of peers) {
          const theirs = best.get(peer.name)!;
          if (theirs.perCpu === 0) continue;
          print({
            bench: 'transport',
            case: `${label} vs ${peer.name}, broker CPU`,
            unit: 'delivered/cpu-s',
            ours: Math.round(ours.perCpu),
            peer: peer.name,
            theirs: Math.round(theirs.perCpu),
            ratio: round2(ours.perCpu / theirs.perCpu),
          });
        }
      }
    }
  } finally {
    await Promise.all(brokers.map((broker) => stopProcess(broker.process)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt !== -1) await serve(process.argv[serveAt + 1] ?? '');
else await main();

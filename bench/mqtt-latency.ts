/**
 * Device publish -> JSTP subscriber latency through the gateway, against plain
 * mosquitto pub -> sub as the peer, both at 1000 msg/s on the same real mosquitto.
 *
 * ours:   MQTT publisher -> mosquitto -> MQTT driver -> device registry -> engine
 *         -> JSTP over TCP -> a client bound to PATCH ["devices","bench","properties","temperature"]
 * peer:   MQTT publisher -> mosquitto -> MQTT subscriber
 *
 * Everything runs in this process, so one clock (performance.now) times both ends.
 * The two alternate in rounds after a warm-up; each keeps all its samples.
 * Prints one JSON line per percentile, then the gateway's added latency at p99 and
 * whether it meets the target (<= 1 ms), e.g.
 * {"bench":"mqtt-latency","case":"p99","unit":"ms","ours":0.9,"peer":"mosquitto pub->sub","theirs":0.4,"ratio":2.25}
 */
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, type Client } from '../gateway/client.js';
import { parseConfig } from '../gateway/config.js';
import { mqttPlugin } from '../gateway/plugins/mqtt-plugin.js';
import { startGateway, type Gateway } from '../gateway/gateway.js';
import { Mosquitto } from '../test/support/mosquitto.js';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const ROUND_MESSAGES = Number(process.env.BENCH_MESSAGES ?? 600);
// Many short alternating rounds, so load from elsewhere on the machine falls on both alike.
const ROUNDS = 10;
const WARMUP_MESSAGES = 500;
const TARGET_ADDED_P99_MS = 1;
const PEER = 'mosquitto pub->sub';

/** Something that receives what the publisher sends; `onReceive(seq)` stamps the arrival. */
interface Contender {
  topic: string;
  payload(seq: number): string;
  setReceiver(onReceive: (seq: number) => void): void;
}

/** Publishes `count` messages at RATE and resolves with each message's latency once all arrived. */
async function round(publisher: MqttClient, contender: Contender, count: number, firstSeq: number): Promise<number[]> {
  const sent = new Float64Array(count);
  const latencies: number[] = [];
  let received = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  contender.setReceiver((seq) => {
    const index = seq - firstSeq;
    if (index < 0 || index >= count || sent[index] === 0) return;
    latencies.push(performance.now() - sent[index]!);
    sent[index] = 0;
    if (++received === count) resolveDone();
  });
  const start = performance.now();
  let next = 0;
  // Publish what is due every millisecond; a late timer sends a small burst to catch up.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - start) * RATE) / 1000) + 1);
      while (next < due) {
        sent[next] = performance.now();
        publisher.publish(contender.topic, contender.payload(firstSeq + next), { qos: 0 });
        next++;
      }
      if (next < count) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const timeout = setTimeout(() => resolveDone(), 10_000);
  await done;
  clearTimeout(timeout);
  if (received < count) process.stderr.write(`${contender.topic}: ${count - received} of ${count} messages lost\n`);
  return latencies;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function rounded(value: number): number {
  return Math.round(value * 1000) / 1000;
}

async function main(): Promise<void> {
  const broker = await Mosquitto.start();
  let gateway: Gateway | undefined;
  let client: Client | undefined;
  const clients: MqttClient[] = [];
  try {
    const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    clients.push(publisher, subscriber);

    // The peer: a plain subscriber that reads the sequence number from the payload.
    let peerReceive: (seq: number) => void = () => {};
    await subscriber.subscribeAsync('bench/peer', { qos: 0 });
    subscriber.on('message', (_topic, payload) => peerReceive((JSON.parse(payload.toString()) as { temperature: number }).temperature));
    const peer: Contender = {
      topic: 'bench/peer',
      payload: (seq) => JSON.stringify({ temperature: seq }),
      setReceiver: (onReceive) => (peerReceive = onReceive),
    };

    // Ours: the gateway with the MQTT driver, and a JSTP client on TCP.
    const config = parseConfig(
      {
        listen: { host: '127.0.0.1', tcp: 0, http: 0 },
        mqtt: { url: broker.url },
        devices: [
          { id: 'bench', driver: 'mqtt', topic: 'bench/sensor', profile: { convention: 'plain-json', properties: { temperature: { type: 'number', unit: '°C' } } } },
        ],
      },
      'bench',
    );
    gateway = await startGateway(config, { plugins: [mqttPlugin({ driver: { homie: false } })] });
    client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`);
    await client.ready();
    let oursReceive: (seq: number) => void = () => {};
    client.bind({ method: 'PATCH', resource: ['devices', 'bench', 'properties', 'temperature'] }, (incoming) => {
      oursReceive((incoming.body as { value: number }).value);
    });
    // Every value differs (the sequence number), so every message becomes a PATCH.
    const ours: Contender = {
      topic: 'bench/sensor',
      payload: (seq) => JSON.stringify({ temperature: seq }),
      setReceiver: (onReceive) => (oursReceive = onReceive),
    };
    // The BIND and the driver's subscription are in place once a value has arrived.
    const first = new Promise<void>((resolve) => (oursReceive = () => resolve()));
    while (
      !(await Promise.race([first.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 100))]))
    ) {
      publisher.publish('bench/sensor', JSON.stringify({ temperature: -1 }));
    }

    let seq = 1;
    await round(publisher, peer, WARMUP_MESSAGES, seq);
    seq += WARMUP_MESSAGES;
    await round(publisher, ours, WARMUP_MESSAGES, seq);
    seq += WARMUP_MESSAGES;
    const samples = { ours: [] as number[], theirs: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      samples.theirs.push(...(await round(publisher, peer, ROUND_MESSAGES, seq)));
      seq += ROUND_MESSAGES;
      samples.ours.push(...(await round(publisher, ours, ROUND_MESSAGES, seq)));
      seq += ROUND_MESSAGES;
    }
    samples.ours.sort((a, b) => a - b);
    samples.theirs.sort((a, b) => a - b);
    for (const p of (process.env.BENCH_PERCENTILES ?? "50,99").split(",").map(Number)) {
      const oursMs = percentile(samples.ours, p);
      const theirsMs = percentile(samples.theirs, p);
      console.log(
        JSON.stringify({
          bench: 'mqtt-latency',
          case: `p${p} at ${RATE} msg/s`,
          unit: 'ms',
          ours: rounded(oursMs),
          peer: PEER,
          theirs: rounded(theirsMs),
          ratio: rounded(oursMs / theirsMs),
          samples: samples.ours.length,
        }),
      );
    }
    const added = percentile(samples.ours, 99) - percentile(samples.theirs, 99);
    console.log(
      JSON.stringify({ bench: 'mqtt-latency', case: 'added by the gateway at p99', unit: 'ms', ours: rounded(added), target: TARGET_ADDED_P99_MS, met: added <= TARGET_ADDED_P99_MS }),
    );
  } finally {
    await client?.close();
    await gateway?.close();
    await Promise.all(clients.map((c) => c.endAsync()));
    await broker.close();
  }
}

await main();

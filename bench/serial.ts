/**
 * The serial link: action round trips per second over a real PTY pair (socat) in
 * both link protocols, against a bare byte echo over the same PTY (the floor: what
 * the PTY and serialport cost with no protocol at all); and bytes per telemetry
 * update as the robot's firmware writes them (jstp-cbor frame, the same dispatch as
 * a JSON line, the line protocol's status report), with what that means at 115200
 * baud, where the bytes and not the CPU are the limit (a PTY does not enforce a baud
 * rate, so the round trips measured here are CPU-bound).
 * Run: npm run bench -- serial [seconds per measurement, default 3]
 * Prints one JSON line per measurement.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';
import { createSerialDriver } from '../drivers/serial/index.js';
import { DeviceRegistry } from '../gateway/devices/registry.js';
import { bindDeviceResources } from '../gateway/devices/resources.js';
import { FramedDispatchLink } from '../gateway/jstp/codec/framed-link.js';
import { createDispatch, serializeDispatch, validateDispatch } from '../gateway/jstp/dispatch.js';
import { randomUUID } from '../gateway/jstp/uuid.js';
import { Engine } from '../gateway/jstp/engine.js';
import { JstpFirmware } from '../firmware-sim/robot/jstp-firmware.js';
import { LineFirmware } from '../firmware-sim/robot/line-firmware.js';
import { RobotModel, type RobotChange } from '../firmware-sim/robot/model.js';
import type { FirmwareProtocol, LinkProtocolName } from '../firmware-sim/robot/protocol.js';
import { RobotOnPort } from '../firmware-sim/robot/robot-port.js';
import { SimulatedRobot } from '../firmware-sim/robot/robot.js';
import { SocatPair, socatAvailable } from '../firmware-sim/robot/socat-pair.js';
import { silentLogger } from '../gateway/jstp/logger.js';

const SECONDS = Number(process.argv[2] ?? 3);
const BAUD = 115200;
/** 8N1: a start bit, eight data bits, a stop bit. */
const BYTES_PER_SECOND = BAUD / 10;

/** One line per case: our figure, the peer's from the same run, and their ratio. */
function report(name: string, unit: string, ours: number, peer: string, theirs: number, extra: Record<string, unknown> = {}): void {
  const ratio = Number((ours / theirs).toFixed(3));
  console.log(JSON.stringify({ bench: 'serial', case: name, unit, ours, peer, theirs, ratio, ...extra }));
}

// ---- bytes per telemetry update ---------------------------------------------------

/**
 * What a firmware writes for one step of a move in the steady state: a pose update and
 * a battery update. The jstp-cbor firmware first hears the gateway (which answers its
 * offer of aliases, as the driver does), and the step before defines the aliases.
 */
async function captureTelemetry(protocol: LinkProtocolName, gateway: FramedDispatchLink): Promise<Uint8Array[]> {
  const writes: Uint8Array[] = [];
  let firmware: FirmwareProtocol | undefined;
  // Drain set high so that one 2.5 cm step also costs a whole percent of battery.
  const model = new RobotModel((change: RobotChange) => firmware?.report(change), { battery: 80.01, drainPerMetre: 100 });
  const context = { model, logger: silentLogger(), write: (bytes: Uint8Array) => void writes.push(Uint8Array.from(bytes)) };
  firmware = protocol === 'line' ? new LineFirmware(context) : new JstpFirmware(context);
  if (firmware instanceof JstpFirmware) {
    firmware.announce();
    for (const frame of writes.splice(0)) gateway.receive(frame);
    firmware.receive(gateway.frame(createDispatch('GET', ['properties'], { token: [randomUUID()] })));
  }
  model.move(1);
  model.advance(100);
  await new Promise<void>((resolve) => queueMicrotask(resolve)); // the line firmware's status report
  const first = writes.splice(0);
  if (firmware instanceof JstpFirmware) for (const frame of first) gateway.receive(frame);
  model.advance(100);
  await new Promise<void>((resolve) => queueMicrotask(resolve));
  return writes;
}

async function telemetryBytes(): Promise<void> {
  const received: unknown[] = [];
  const gateway = new FramedDispatchLink({ write: () => undefined, onDispatch: (raw) => void received.push(raw), onUndecodable: (error) => {
    throw error;
  } });
  const jstp = await captureTelemetry('jstp-cbor', gateway);
  const line = await captureTelemetry('line', gateway);
  // The two frames of the step: PATCH pose, PATCH battery, read with the gateway's aliases.
  const frames = jstp.slice(0, 2);
  received.length = 0;
  for (const frame of frames) gateway.receive(frame);
  const dispatches = received.map((raw) => {
    const result = validateDispatch(raw);
    if (!result.ok) throw new Error(result.reason);
    return result.dispatch;
  });
  if (dispatches.length !== 2 || gateway.aliasStats().usesReceived < 2) throw new Error('the steady state frames did not use aliases');
  const jsonLines = dispatches.map((dispatch) => Buffer.byteLength(`${serializeDispatch(dispatch)}\n`));
  // The line firmware folds every value that changed into one status report.
  const status = line.find((bytes) => bytes[0] === 0x3c /* < */)!;
  const at115200 = (bytes: number) => ({ updatesPerSecondAt115200: Math.floor(BYTES_PER_SECOND / bytes) });
  for (const [index, update] of (['pose', 'battery'] as const).entries()) {
    const frame = frames[index]!.length;
    report(`${update} update: jstp-cbor frame vs JSON line`, 'bytes', frame, 'JSON line (same dispatch)', jsonLines[index]!, at115200(frame));
  }
  // The line firmware folds pose, battery, state, speed and motors into one status report.
  report('pose update: jstp-cbor frame vs line status report', 'bytes', frames[0]!.length, 'line status report', status.length, {
    statusReportsPerSecondAt115200: Math.floor(BYTES_PER_SECOND / status.length),
  });
}

// ---- round trips over the PTY -------------------------------------------------------

async function echoRoundTrips(pair: SocatPair): Promise<number> {
  const open = (p: string) => new Promise<SerialPort>((resolve, reject) => {
    const port = new SerialPort({ path: p, baudRate: BAUD, autoOpen: false });
    port.open((error) => (error ? reject(error) : resolve(port)));
  });
  const [a, b] = [await open(pair.a), await open(pair.b)];
  b.on('data', (chunk: Buffer) => b.write(chunk));
  const run = async (seconds: number): Promise<number> => {
    let count = 0;
    const end = performance.now() + seconds * 1000;
    await new Promise<void>((resolve) => {
      const onData = () => {
        count++;
        if (performance.now() < end) {
          a.write('p');
          return;
        }
        a.off('data', onData);
        resolve();
      };
      a.on('data', onData);
      a.write('p');
    });
    return count;
  };
  await run(0.5); // warmup
  const count = await run(SECONDS);
  await Promise.all([a, b].map((port) => new Promise<void>((resolve) => port.close(() => resolve()))));
  return count / SECONDS;
}

async function actionRoundTrips(pair: SocatPair, protocol: LinkProtocolName): Promise<{ perSecond: number; bytesPerRoundTrip: number }> {
  const robot = new SimulatedRobot({ protocol });
  const onPort = new RobotOnPort(robot, { path: pair.b, baudRate: BAUD });
  await onPort.ready();
  const engine = new Engine();
  const device = { id: 'rover', driver: 'serial', path: pair.a, baudRate: BAUD, protocol, ...(protocol === 'line' ? { profile: 'robot-line' } : {}) };
  const registry = new DeviceRegistry({ engine, devices: [device], deadlineMs: 5_000 });
  const unbind = bindDeviceResources(engine, registry);
  const driver = createSerialDriver();
  const online = new Promise<void>((resolve) => {
    const off = engine.bind({ method: 'PATCH', resource: ['devices', 'rover'] }, (incoming) => {
      if ((incoming.body as { online?: boolean }).online) {
        off();
        resolve();
      }
    });
  });
  await driver.start(registry.context('serial', [device]));
  await online;
  const call = async () => {
    const answers = await engine.request('POST', ['devices', 'rover', 'actions', 'stop'], null).all();
    if (answers[0]?.status !== 200) throw new Error(`stop answered ${answers[0]?.status}`);
  };
  // Bytes both ways, counted by a noise-free noise stage on the robot (then removed: it costs CPU).
  robot.setNoise({}, {});
  for (let i = 0; i < 100; i++) await call();
  const { tx, rx } = robot.noiseCounters;
  const bytesPerRoundTrip = (tx!.bytes + rx!.bytes) / 100;
  robot.setNoise(undefined);
  for (let i = 0; i < 200; i++) await call(); // warmup
  let count = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    await call();
    count++;
  }
  await driver.stop();
  unbind();
  engine.close();
  robot.stop();
  await onPort.close();
  return { perSecond: count / SECONDS, bytesPerRoundTrip };
}

async function roundTrips(): Promise<void> {
  if (!(await socatAvailable())) {
    console.log(JSON.stringify({ bench: 'serial', case: 'action round trips', skipped: 'socat is not installed (apt-get install socat)' }));
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'pasarela-bench-'));
  const pair = new SocatPair({ dir });
  await pair.start();
  try {
    // The peer is the PTY itself: a bare byte echo, no protocol, measured in the same run.
    const echo = await echoRoundTrips(pair);
    for (const protocol of ['jstp-cbor', 'line'] as const) {
      const { perSecond, bytesPerRoundTrip } = await actionRoundTrips(pair, protocol);
      report(`${protocol} action round trip over the PTY (POST stop: engine, registry, driver, firmware)`, 'round trips/s',
        Math.round(perSecond), 'bare byte echo over the same PTY', Math.round(echo), {
          bytesPerRoundTrip: Math.round(bytesPerRoundTrip),
          roundTripsPerSecondAt115200: Math.floor(BYTES_PER_SECOND / bytesPerRoundTrip),
        });
    }
  } finally {
    await pair.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await telemetryBytes();
await roundTrips();

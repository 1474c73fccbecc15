/**
 * The cost of security, part 1 (docs/spec/security.md):
 * - signing and verifying a sensor PATCH (signed content, COSE_Sign1, base64url; and
 *   on the verifying side reading the header too) against raw `crypto.sign` and
 *   `crypto.verify` of a message of the same size, with the same keys, in alternating
 *   slices of the same run (targets: at least 0.8 and 0.85 of raw);
 * - the transport bench's 1-subscriber case: one publisher, one subscriber, the
 *   gateway in a process of its own, with signatures required (the publisher signs
 *   each PATCH, the gateway verifies it, checks the replay window, persisted to a
 *   file, and filters the delivery by the subscriber's rights) against the same
 *   gateway without the stage (the ratio is printed);
 * - the bytes a signature adds to a sensor PATCH, in JSON and in compact CBOR
 *   (target: at most 90 B in CBOR).
 * And of part 2 (sealing):
 * - sealing and opening a signed sensor PATCH (outside and inside split, X25519,
 *   HKDF, AES-128-GCM, CBOR) against raw X25519 + AES-128-GCM of the same bytes with
 *   node:crypto (an ephemeral key pair, two agreements, seal and open), in alternating
 *   slices of the same run;
 * - the bytes a signed and sealed sensor PATCH adds in compact CBOR for one recipient
 *   (target: at most 180 B) and for each further one (target: at most 40 B);
 * - a relay (a gateway in a process of its own, security on, forwarding by `host`
 *   hops) passing sealed dispatches against plain ones, in alternating rounds
 *   (target: at least 0.95; a relay does no cryptography).
 * Prints one JSON line per case. Run: npm run bench -- security
 */
import crypto from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type Client } from '../gateway/client.js';
import { encodeDispatch } from '../gateway/jstp/codec/cbor.js';
import { createDispatch, serializeDispatch, type Dispatch } from '../gateway/jstp/dispatch.js';
import { Engine } from '../gateway/jstp/engine.js';
import { silentLogger } from '../gateway/jstp/logger.js';
import { ClientSecurityStage } from '../gateway/security/client-stage.js';
import { readSignature, signatureProtected, signDispatch, verifyDispatch } from '../gateway/security/dispatch-signature.js';
import { ReplayFile } from '../gateway/security/files.js';
import { createIdentity } from '../gateway/security/identity.js';
import { nodeSuite } from '../gateway/security/node-suite.js';
import { createPolicy } from '../gateway/security/policy.js';
import { ReplayGuard } from '../gateway/security/replay.js';
import { SecurityStage } from '../gateway/security/security-stage.js';
import { memorySequenceStore, SequenceCounter } from '../gateway/security/sequence.js';
import { DispatchSigner } from '../gateway/security/signer.js';
import { toBeSigned } from '../gateway/security/signed-content.js';
import { base64url } from '../gateway/security/bytes.js';
import { open as openSealed, readSealed, seal } from '../gateway/security/seal.js';
import { externalAad, mergeOpened, splitForSealing } from '../gateway/security/sealed-dispatch.js';
import { writeIdentityFile } from '../gateway/security/files.js';
import { securityPlugin } from '../gateway/security/plugin.js';
import { parseConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/gateway.js';
import net from 'node:net';
import { TcpTransport } from '../gateway/transports/tcp.js';
import { jstpCountingSubscriber } from './support/counting-subscribers.js';

const HOST = '127.0.0.1';
const RESOURCE = ['devices', 'kitchen', 'properties', 'temperature'];
const BODY = { value: 21.5, at: 1_700_000_000_000 };
const ROUNDS = 3;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const WINDOW = 1000;
const self = fileURLToPath(import.meta.url);
/** Fixed seeds: the publisher's key must be the gateway's owner in the child process too. */
const PUBLISHER = createIdentity(nodeSuite, { signing: new Uint8Array(32).fill(7), agreement: new Uint8Array(32).fill(8) });
const GATEWAY = createIdentity(nodeSuite, { signing: new Uint8Array(32).fill(9), agreement: new Uint8Array(32).fill(10) });
const PHONES = [11, 13, 15].map((n) => createIdentity(nodeSuite, { signing: new Uint8Array(32).fill(n), agreement: new Uint8Array(32).fill(n + 1) }));
const recipientOf = (identity: typeof GATEWAY) => ({ kid: identity.kid, kidHex: identity.kidHex, agreementKey: identity.agreementKey });

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

// ---- sign and verify ---------------------------------------------------------------------

let sink = 0;

/** Operations per second of each, in alternating 50 ms slices over about `seconds`, after a warm-up. */
function compare(ours: () => number, theirs: () => number, seconds = 1.5): [number, number] {
  const spin = (run: () => number, ms: number): [number, number] => {
    const start = performance.now();
    let ops = 0;
    while (performance.now() - start < ms) {
      for (let i = 0; i < 20; i++) sink += run();
      ops += 20;
    }
    return [ops, performance.now() - start];
  };
  spin(ours, 300);
  spin(theirs, 300);
  const totals = [0, 0, 0, 0];
  for (let elapsed = 0; elapsed < seconds * 1000; elapsed += 100) {
    const [a, ta] = spin(ours, 50);
    const [b, tb] = spin(theirs, 50);
    totals[0]! += a;
    totals[1]! += ta;
    totals[2]! += b;
    totals[3]! += tb;
  }
  return [(totals[0]! / totals[1]!) * 1000, (totals[2]! / totals[3]!) * 1000];
}

function signAndVerify(): void {
  const patch = createDispatch('PATCH', RESOURCE, { body: BODY, timestamp: 1_700_000_000_123 });
  const key = crypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(PUBLISHER.secrets.signing).toString('base64url'), x: Buffer.from(PUBLISHER.signingKey).toString('base64url') }, format: 'jwk' });
  const publicKey = crypto.createPublicKey(key);
  // Raw: the same number of bytes as what the dispatch signature signs.
  const message = Buffer.from(toBeSigned(patch, signatureProtected(PUBLISHER.kid, 1 << 20)));
  let sequence = 1 << 20;
  const [ours, raw] = compare(
    () => signDispatch(PUBLISHER, patch, sequence++).sig.length,
    () => crypto.sign(null, message, key).length,
  );
  print({ bench: 'security', case: 'sign a sensor PATCH vs raw crypto.sign', unit: 'ops/s', ours: Math.round(ours), peer: 'crypto.sign', theirs: Math.round(raw), ratio: round2(ours / raw), target: 0.8 });

  const { sig } = signDispatch(PUBLISHER, patch, 1 << 20);
  const signature = Buffer.from(crypto.sign(null, message, key));
  const verify = nodeSuite.verifier(PUBLISHER.signingKey);
  const [oursVerify, rawVerify] = compare(
    () => {
      const reading = readSignature(sig);
      return reading.ok && verifyDispatch(verify, patch, reading.signature) ? 1 : 0;
    },
    () => (crypto.verify(null, message, publicKey, signature) ? 1 : 0),
  );
  print({ bench: 'security', case: 'verify a sensor PATCH (read the header too) vs raw crypto.verify', unit: 'ops/s', ours: Math.round(oursVerify), peer: 'crypto.verify', theirs: Math.round(rawVerify), ratio: round2(oursVerify / rawVerify), target: 0.85 });
}

// ---- bytes --------------------------------------------------------------------------------

function bytes(): void {
  const patch: Dispatch = createDispatch('PATCH', RESOURCE, { body: BODY, timestamp: 1_700_000_000_123 });
  // A signer that has sent a million dispatches: a 3-byte sequence number.
  const signed = { ...patch, sig: signDispatch(PUBLISHER, patch, 1_000_000).sig };
  const cbor = encodeDispatch(signed).length - encodeDispatch(patch).length;
  const json = serializeDispatch(signed).length - serializeDispatch(patch).length;
  print({ bench: 'security', case: 'bytes a signature adds to a sensor PATCH, compact CBOR', unit: 'B', ours: cbor, of: encodeDispatch(signed).length, target: 90 });
  print({ bench: 'security', case: 'bytes a signature adds to a sensor PATCH, JSON', unit: 'B', ours: json, of: serializeDispatch(signed).length });
}

// ---- sealing --------------------------------------------------------------------------------

function sealAndOpen(): void {
  const patch = createDispatch('PATCH', RESOURCE, { body: BODY, timestamp: 1_700_000_000_123 });
  const signed: Dispatch = { ...patch, sig: signDispatch(PUBLISHER, patch, 1 << 20).sig };
  const opening = { kid: GATEWAY.kid, agree: nodeSuite.agreement(GATEWAY.secrets.agreement) };
  const to = [recipientOf(GATEWAY)];
  // Raw: the same cryptography by hand, on the same number of bytes.
  const plaintext = Buffer.from(splitForSealing(signed, 'visible').plaintext);
  const gatewayKey = crypto.createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(GATEWAY.secrets.agreement).toString('base64url'), x: Buffer.from(GATEWAY.agreementKey).toString('base64url') }, format: 'jwk' });
  const gatewayPublic = crypto.createPublicKey(gatewayKey);
  const key = Buffer.alloc(16, 1);
  const nonce = Buffer.alloc(12, 2);
  const [ours, raw] = compare(
    () => {
      const { outer, plaintext: inner } = splitForSealing(signed, 'visible');
      const sealed = seal(nodeSuite, to, inner, (more) => externalAad(outer, more));
      const wire = { ...outer, sealed: base64url(sealed.bytes) };
      const reading = readSealed(sealed.bytes);
      if (!reading.ok) return 0;
      const opened = openSealed(nodeSuite, opening, reading.parts, (more) => externalAad(wire, more));
      return opened.ok && mergeOpened(wire, opened.plaintext).ok ? 1 : 0;
    },
    () => {
      const ephemeral = crypto.generateKeyPairSync('x25519');
      const senderSecret = crypto.diffieHellman({ privateKey: ephemeral.privateKey, publicKey: gatewayPublic });
      const x = (ephemeral.publicKey.export({ format: 'jwk' }) as { x: string }).x;
      const receiverSecret = crypto.diffieHellman({ privateKey: gatewayKey, publicKey: crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }) });
      const cipher = crypto.createCipheriv('aes-128-gcm', key, nonce);
      const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const tag = cipher.getAuthTag();
      const decipher = crypto.createDecipheriv('aes-128-gcm', key, nonce);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(sealed), decipher.final()]).length + senderSecret.length + receiverSecret.length;
    },
  );
  print({ bench: 'security', case: 'seal + open a signed sensor PATCH vs raw X25519 + AES-128-GCM', unit: 'ops/s', ours: Math.round(ours), peer: 'node:crypto by hand', theirs: Math.round(raw), ratio: round2(ours / raw) });
}

function sealedBytes(): void {
  const patch: Dispatch = createDispatch('PATCH', RESOURCE, { body: BODY, timestamp: 1_700_000_000_123 });
  const signed: Dispatch = { ...patch, sig: signDispatch(PUBLISHER, patch, 1_000_000).sig };
  const { outer, plaintext } = splitForSealing(signed, 'visible');
  const plain = encodeDispatch(patch).length;
  const sizes = [1, 2, 3, 4].map((n) => {
    const sealed = seal(nodeSuite, [GATEWAY, ...PHONES].slice(0, n).map(recipientOf), plaintext, (more) => externalAad(outer, more));
    return encodeDispatch({ ...outer, sealed: base64url(sealed.bytes) }).length - plain;
  });
  print({ bench: 'security', case: 'bytes a signature and a seal add to a sensor PATCH, one recipient, compact CBOR', unit: 'B', ours: sizes[0], of: plain + sizes[0]!, target: 180 });
  const extra = Math.max(sizes[1]! - sizes[0]!, sizes[2]! - sizes[1]!, sizes[3]! - sizes[2]!);
  print({ bench: 'security', case: 'bytes each further recipient adds (2 to 4), compact CBOR', unit: 'B', ours: extra, sizes, target: 40 });
}

/** `--serve relay`: a gateway with security on and forwarding; prints its port. */
async function serveRelay(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-relay-'));
  writeIdentityFile(path.join(dir, 'relay.key'), GATEWAY);
  const config = parseConfig({ listen: { host: HOST, tcp: 0, http: 0 }, log: { level: 'silent' }, jstp: { forwarding: { enabled: true } }, security: { identity: './relay.key', owners: [], anonymous: 'full' } }, 'bench');
  const gateway = await startGateway(config, { configDir: dir, plugins: [securityPlugin()] });
  process.stdout.write(`${JSON.stringify({ port: gateway.ports.tcp })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void gateway.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}

/** Writes `line` to the relay as fast as the sink counts it, WINDOW ahead at most; arrivals per second. */
async function relayRound(socket: net.Socket, line: string, counted: () => number, ms: number): Promise<number> {
  const base = counted();
  let sent = 0;
  const start = performance.now();
  const batch = line.repeat(50);
  while (performance.now() - start < ms) {
    while (sent - (counted() - base) < WINDOW) {
      socket.write(batch);
      sent += 50;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const rate = ((counted() - base) / (performance.now() - start)) * 1000;
  const deadline = performance.now() + 2000;
  while (counted() - base < sent && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  return rate;
}

async function relay(): Promise<void> {
  let arrived = 0;
  const sink = net.createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) arrived++;
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, HOST, resolve));
  const sinkPort = (sink.address() as net.AddressInfo).port;
  const { port, child } = await startChild('relay');
  try {
    const hop: [string, number, string] = [HOST, sinkPort, 'tcp'];
    const patch = createDispatch('PATCH', RESOURCE, { body: BODY, timestamp: 1_700_000_000_123, host: [hop] });
    const signed: Dispatch = { ...patch, sig: signDispatch(PUBLISHER, { ...patch, host: undefined }, 1 << 20).sig };
    // Plain: the signed PATCH as it is. Sealed: the same, sealed whole to the far end (the relay is not it).
    const { outer, plaintext } = splitForSealing({ ...signed }, 'full');
    const sealed = seal(nodeSuite, PHONES.slice(0, 1).map(recipientOf), plaintext, (more) => externalAad(outer, more));
    const lines = { plain: `${serializeDispatch(signed)}\n`, sealed: `${serializeDispatch({ ...outer, sealed: base64url(sealed.bytes) })}\n` };
    const socket = net.connect(port, HOST);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const best = { plain: 0, sealed: 0 };
    for (const kind of ['plain', 'sealed'] as const) await relayRound(socket, lines[kind], () => arrived, 500);
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of ['plain', 'sealed'] as const) {
        globalThis.gc?.();
        best[kind] = Math.max(best[kind], await relayRound(socket, lines[kind], () => arrived, ROUND_MS));
      }
    }
    print({ bench: 'security', case: 'relay throughput, sealed vs plain dispatches (host hops, security on)', unit: 'relayed/s', ours: Math.round(best.sealed), peer: 'the same relay, plain', theirs: Math.round(best.plain), ratio: round2(best.sealed / best.plain), target: 0.95, bytes: { plain: lines.plain.length, sealed: lines.sealed.length } });
    socket.destroy();
  } finally {
    child.stdin?.end();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  }
}

// ---- transport, 1 subscriber ----------------------------------------------------------------

/** `--serve plain|signed`: a gateway on a free port; prints it, stops when stdin closes. */
async function serve(kind: string): Promise<void> {
  const engine = new Engine();
  let replay: ReplayFile | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-security-'));
  if (kind === 'signed') {
    replay = await ReplayFile.open(path.join(dir, 'replay'), silentLogger());
    engine.use(
      new SecurityStage({
        suite: nodeSuite,
        // The publisher is an owner; the subscriber reads unsigned (anonymous: read), so its deliveries are checked.
        policy: createPolicy(nodeSuite, [PUBLISHER.id], 'read'),
        replay: new ReplayGuard(replay),
        signer: new DispatchSigner(GATEWAY, new SequenceCounter(memorySequenceStore())),
      }),
    );
  }
  const transport = new TcpTransport({ engine, host: HOST, port: 0 });
  const { port } = await transport.listen();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void (async () => {
      await transport.close();
      engine.close();
      await replay?.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    })();
  });
}

async function startChild(kind: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...process.execArgv, self, '--serve', kind], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
  return { port, child };
}

/** Publishes as fast as one subscriber counts deliveries, WINDOW ahead at most; deliveries per second. */
async function round(client: Client, counted: () => number, ms: number): Promise<number> {
  const base = counted();
  let sent = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    const ahead = sent - (counted() - base);
    for (let i = ahead; i < WINDOW && i - ahead < 100; i++) {
      client.emit('PATCH', RESOURCE, BODY);
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const rate = ((counted() - base) / (performance.now() - start)) * 1000;
  const deadline = performance.now() + 2000;
  while (counted() - base < sent && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  return rate;
}

async function transport(): Promise<void> {
  const gateways = { plain: await startChild('plain'), signed: await startChild('signed') };
  try {
    const setups = await Promise.all(
      (['plain', 'signed'] as const).map(async (kind) => {
        const { port } = gateways[kind];
        const subscriber = await jstpCountingSubscriber(HOST, port, { method: 'PATCH', resource: RESOURCE }, 10_000);
        const client = connect(`tcp://${HOST}:${port}`, { reconnect: false });
        if (kind === 'signed') client.use(new ClientSecurityStage({ suite: nodeSuite, signer: new DispatchSigner(PUBLISHER, new SequenceCounter(memorySequenceStore())) }));
        await client.ready();
        return { kind, subscriber, client };
      }),
    );
    const best = { plain: 0, signed: 0 };
    for (const { client, subscriber } of setups) await round(client, () => subscriber.count, 500);
    for (let r = 0; r < ROUNDS; r++) {
      for (const { kind, client, subscriber } of setups) {
        globalThis.gc?.();
        best[kind] = Math.max(best[kind], await round(client, () => subscriber.count, ROUND_MS));
      }
    }
    print({ bench: 'security', case: 'transport, 1 subscriber, signatures required vs none', unit: 'delivered/s', ours: Math.round(best.signed), peer: 'no security stage', theirs: Math.round(best.plain), ratio: round2(best.signed / best.plain) });
    for (const { client, subscriber } of setups) {
      await client.close();
      await subscriber.close();
    }
  } finally {
    for (const { child } of Object.values(gateways)) child.stdin?.end();
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt !== -1) {
  if (process.argv[serveAt + 1] === 'relay') await serveRelay();
  else await serve(process.argv[serveAt + 1] ?? '');
} else {
  signAndVerify();
  bytes();
  await transport();
  sealAndOpen();
  sealedBytes();
  await relay();
}

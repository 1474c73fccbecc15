/**
 * The real `pasarela` command, spawned from the TypeScript source (no stale dist/):
 * startup, signals, config errors, flags, `call` and `watch`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import { deadPort, parseJson, pasarelaRuns, ROOT } from '../support/pasarela.js';

const { pasarela, gateway } = pasarelaRuns();
const clients: Client[] = [];

let dir: string;
let version: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-cli-'));
  version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pasarela (the gateway)', () => {
  it('logs one JSON `ready` line carrying the bound ports', async () => {
    const { run, tcp, http } = await gateway();
    expect(tcp).toBeGreaterThan(0);
    expect(http).toBeGreaterThan(0);
    expect(tcp).not.toBe(http);
    expect(run.stdout.filter((line) => parseJson(line)?.msg === 'ready')).toHaveLength(1);
    // Both ports really accept connections.
    for (const port of [tcp, http]) {
      const socket = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.destroy();
    }
  });

  it('serves the dashboard over HTTP on the http port', async () => {
    const { http } = await gateway();
    const response = await fetch(`http://127.0.0.1:${http}/`);
    // 503 is the handler's answer while web/dist is not built.
    const built = existsSync(join(ROOT, 'web', 'dist', 'index.html'));
    expect(response.status).toBe(built ? 200 : 503);
    if (built) expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    await response.arrayBuffer();
  });

  it('runs the demo: MQTT sensors, the BLE coffee maker and JSTP tag, and the serial robot', async () => {
    const { run, tcp } = await gateway('--demo');
    expect(run.stdout.some((line) => parseJson(line)?.msg === 'embedded MQTT broker listening')).toBe(true);
    const client = connect(`tcp://127.0.0.1:${tcp}`, { reconnect: false });
    clients.push(client);
    await client.ready();
    const wanted = ['coffee', 'living-room', 'plug', 'rover', 'tag'];
    let online: string[] = [];
    // Devices come up as their simulators connect: ask until they all have.
    for (let attempt = 0; attempt < 200 && !wanted.every((id) => online.includes(id)); attempt++) {
      const listed = (await client.get(['devices'])).body as { id: string; online: boolean }[];
      online = listed.filter((device) => device.online).map((device) => device.id);
      if (!wanted.every((id) => online.includes(id))) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(online).toEqual(expect.arrayContaining(wanted));
    expect(run.stdout.some((line) => /simulated robot on (a PTY pair|an in-process)/.test(String(parseJson(line)?.msg)))).toBe(true);
    // The tag speaks JSTP over BLE: its action goes to it as a dispatch in frames cut to the MTU.
    const blink = await client.post(['devices', 'tag', 'actions', 'blink'], { times: 2 });
    expect({ status: blink.status, body: blink.body }).toEqual({ status: 200, body: { blinked: 2 } });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`exits 0 promptly on ${signal}, with a peer connected`, async () => {
      const { run, tcp } = await gateway();
      // A peer that never hangs up its side: closing must not wait for it.
      const socket = net.connect({ port: tcp, host: '127.0.0.1', allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.on('error', () => undefined);
      const started = Date.now();
      run.kill(signal);
      const exit = await run.exited;
      const elapsed = Date.now() - started;
      socket.destroy();
      expect(exit).toEqual({ code: 0, signal: null });
      // The promise is 2 s; the bound is generous for slow machines.
      expect(elapsed).toBeLessThan(3_000);
      expect(run.stdout.some((line) => parseJson(line)?.msg === 'closed')).toBe(true);
    });
  }

  it('exits 2 naming file, key and expectation for a wrong type in YAML', async () => {
    const path = join(dir, 'wrong-type.yaml');
    await writeFile(path, 'listen:\n  tcp: 0\njstp:\n  answerTimeoutMs: soon\n');
    const run = pasarela('--config', path);
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain(`${path}:4`);
    expect(stderr).toContain('jstp.answerTimeoutMs');
    expect(stderr).toContain('expected number, got string "soon"');
    expect(run.stdout.some((line) => parseJson(line)?.msg === 'ready')).toBe(false);
  });

  it('exits 2 naming file and line for a YAML syntax error', async () => {
    const path = join(dir, 'syntax.yaml');
    await writeFile(path, 'listen:\n  tcp: 0\njstp: { mode: strict\n');
    const run = pasarela('--config', path);
    expect((await run.exited).code).toBe(2);
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain(path);
    expect(stderr).toMatch(/YAML syntax error at line \d+/);
  });

  it('exits 2 for a bad flag value', async () => {
    const run = pasarela('--tcp', 'lots');
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('\n')).toContain('--tcp: expected a port number');
  });

  it('lets flags override the file, and the file the defaults', async () => {
    const path = join(dir, 'override.yaml');
    // host comes from the file; the ports and log level from the flags.
    await writeFile(path, 'listen: { host: localhost, tcp: 1, http: 2 }\nlog: { level: warn }\n');
    const { run, tcp, http } = await gateway('--config', path, '--log-level', 'info');
    expect(tcp).not.toBe(1);
    expect(http).not.toBe(2);
    expect((await run.log('ready')).host).toBe('localhost');
  });

  it('exits 1 with a clear message when a port is taken', async () => {
    const { tcp } = await gateway();
    const run = pasarela('--tcp', String(tcp), '--http', '0');
    expect((await run.exited).code).toBe(1);
    expect(run.stderr.join('\n')).toContain('EADDRINUSE');
    expect(run.stdout.some((line) => parseJson(line)?.err !== undefined && JSON.stringify(parseJson(line)).includes('PASARELA_ADDRESS_IN_USE'))).toBe(true);
  });

  it('takes every backoff option under serial.reconnect, and names an old spelling', async () => {
    const device = '  - { id: rover, driver: serial, path: /dev/pasarela-no-such-port, protocol: jstp-cbor }\n';
    const good = join(dir, 'reconnect.yaml');
    await writeFile(good, `serial: { reconnect: { initialMs: 20, maxMs: 200, factor: 3, jitter: 0.5, stableMs: 500 } }\ndevices:\n${device}`);
    const { tcp } = await gateway('--config', good);
    const client = connect(`tcp://127.0.0.1:${tcp}`, { reconnect: false });
    clients.push(client);
    await client.ready();
    expect((await client.get(['devices'])).body).toMatchObject([{ id: 'rover', driver: 'serial', online: false }]);

    const old = join(dir, 'reconnect-old.yaml');
    await writeFile(old, `serial: { reconnect: { initialDelayMs: 20 } }\ndevices:\n${device}`);
    const run = pasarela('--tcp', '0', '--http', '0', '--config', old);
    // A driver's config error is a config error: exit 2, like the gateway's own.
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('\n')).toContain('serial.reconnect.initialDelayMs: is not a backoff option: it is called initialMs now');
  });
});

describe('pasarela call', () => {
  it('prints the 200 answer of GET gateway (over TCP and over WebSocket)', async () => {
    const { tcp, http } = await gateway();
    for (const url of [`tcp://127.0.0.1:${tcp}`, `ws://127.0.0.1:${http}/`]) {
      const run = pasarela('call', 'GET', 'gateway', '--url', url);
      const exit = await run.exited;
      expect(run.stderr).toEqual([]);
      expect(exit.code).toBe(0);
      expect(run.stdout).toHaveLength(1);
      const match = /^200 Ok (.*)$/.exec(run.stdout[0]!);
      expect(match).not.toBeNull();
      const body = JSON.parse(match![1]!) as Record<string, unknown>;
      expect(body).toMatchObject({ name: 'pasarela', version, drivers: [] });
      expect(typeof body.uptime).toBe('number');
    }
  });

  it('exits 1 and prints the answer when nothing answers 2xx', async () => {
    const { tcp } = await gateway();
    const run = pasarela('call', 'GET', 'no/such/thing', '--url', `tcp://127.0.0.1:${tcp}`);
    expect((await run.exited).code).toBe(1);
    expect(run.stdout).toEqual(['404 Not Found {"reason":"no subscription matched"}']);
  });

  it('exits 1 quickly with a clear message against a dead port', async () => {
    const port = await deadPort();
    const started = Date.now();
    const run = pasarela('call', 'GET', 'gateway', '--url', `tcp://127.0.0.1:${port}`);
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain(`cannot connect to tcp://127.0.0.1:${port}`);
    expect(stderr).toContain('ECONNREFUSED');
    expect(run.stdout).toEqual([]);
  });

  it('exits 2 for bad usage', async () => {
    for (const args of [['call', 'FETCH', 'a'], ['call', 'GET'], ['call', 'POST', 'a', '--body', '{nope']]) {
      const run = pasarela(...args);
      expect((await run.exited).code).toBe(2);
      expect(run.stderr.join('\n')).toMatch(/METHOD|PATH|--body/);
    }
  });
});

describe('pasarela watch', () => {
  it('prints PATCHes other clients emit (also `call --emit`), and exits 0 on Ctrl-C', async () => {
    const { tcp } = await gateway();
    const url = `tcp://127.0.0.1:${tcp}`;
    const watch = pasarela('watch', 'PATCH', 'devices/*/properties/temperature', '--url', url);
    await watch.line('stderr', (line) => line.startsWith('watching PATCH devices/*/properties/temperature'));

    const client = connect(url, { reconnect: false });
    clients.push(client);
    await client.ready();
    const expected = 'PATCH devices/kitchen/properties/temperature {"value":21.5,"at":1700000000000}';
    // The BIND travels on the watcher's own connection: emit until it has taken effect.
    const timer = setInterval(() => {
      client.emit('PATCH', ['devices', 'kitchen', 'properties', 'temperature'], { value: 21.5, at: 1_700_000_000_000 });
      client.emit('PATCH', ['devices', 'kitchen', 'properties', 'humidity'], { value: 40, at: 1_700_000_000_000 });
    }, 50);
    try {
      await watch.line('stdout', (line) => line === expected);
    } finally {
      clearInterval(timer);
    }
    expect(watch.stdout.every((line) => line === expected)).toBe(true);

    // Bound now: one `call --emit` from the command line shows up too.
    const emit = pasarela('call', 'PATCH', 'devices/porch/properties/temperature', '--body', '{"value":7.25}', '--emit', '--url', url);
    expect((await emit.exited).code).toBe(0);
    expect(emit.stdout).toEqual([]);
    await watch.line('stdout', (line) => line === 'PATCH devices/porch/properties/temperature {"value":7.25}');

    watch.kill('SIGINT');
    expect((await watch.exited).code).toBe(0);
  });

  it('acknowledges the requests it sees with 100, so callers get no 504', async () => {
    const { tcp } = await gateway();
    const url = `tcp://127.0.0.1:${tcp}`;
    const watch = pasarela('watch', '*', 'gateway', '--url', url);
    await watch.line('stderr', (line) => line.startsWith('watching * gateway'));
    const client = connect(url, { reconnect: false, answerTimeoutMs: 60_000 });
    clients.push(client);
    await client.ready();
    // The BIND travels on the watcher's own connection: ask until it has taken effect.
    let statuses: number[] = [];
    for (let attempt = 0; attempt < 100 && !statuses.includes(100); attempt++) {
      statuses = (await client.get(['gateway']).all()).map((answer) => answer.status).sort();
    }
    expect(statuses).toEqual([100, 200]);
    await watch.line('stdout', (line) => line.startsWith('GET gateway'));
    watch.kill('SIGINT');
    expect((await watch.exited).code).toBe(0);
  });

  it('exits 1 with a clear message against a dead port', async () => {
    const port = await deadPort();
    const run = pasarela('watch', '*', '...', '--url', `tcp://127.0.0.1:${port}`);
    expect((await run.exited).code).toBe(1);
    expect(run.stderr.join('\n')).toContain(`cannot connect to tcp://127.0.0.1:${port}`);
  });
});

/**
 * A driver that fails is isolated, through the real `pasarela` command: a `start`
 * that throws or rejects, a promise it started that rejects later, and its socket's
 * data handler throwing are each logged with the driver's name; its devices go
 * offline; the gateway and the other driver keep answering. A request handler that
 * throws only fails that request (500). A failed driver starts again with backoff.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../gateway/client.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { connectedClient } from '../support/connected-client.js';
import { parseJson, pasarelaRuns, ROOT, type Run } from '../support/pasarela.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'drivers');
const { gateway } = pasarelaRuns();
const cleanups = cleanupsAfterEach();
let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-isolation-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A gateway running the steady driver and the faulty one, failing as `options` say. */
async function start(faulty: Record<string, unknown>, restart = 'false'): Promise<{ run: Run; peer: Client }> {
  const path = join(dir, `config-${counter++}.yaml`);
  const options = JSON.stringify(faulty);
  await writeFile(path, ['drivers:', `  - { module: ${join(FIXTURES, 'steady.js')} }`, `  - { module: ${join(FIXTURES, 'faulty.js')}, options: ${options}, restart: ${restart} }`, ''].join('\n'));
  const { run, tcp } = await gateway('--config', path);
  const peer = await connectedClient(tcp, cleanups);
  return { run, peer };
}

/** The log line reporting the faulty driver's failure. */
async function failureLine(run: Run): Promise<Record<string, unknown>> {
  const line = await run.line('stdout', (text) => parseJson(text)?.code === 'PASARELA_DRIVER_FAILED');
  return parseJson(line)!;
}

/** Resolves with the first answer, whatever its status. */
async function answer(peer: Client, resource: string[]): Promise<{ status: number; body: unknown }> {
  const [first] = await peer.request('GET', resource).all();
  return { status: first!.status, body: first!.body };
}

/** `seen` resolves at the device's PATCH `{ online: false }`; bound on the gateway when this resolves. */
async function offline(peer: Client, id: string): Promise<{ seen: Promise<void> }> {
  const seen = new Promise<void>((resolve) => {
    const unbind = peer.bind({ method: 'PATCH', resource: ['devices', id] }, ({ body }) => {
      if ((body as { online?: boolean }).online !== false) return;
      unbind();
      resolve();
    });
  });
  // The gateway handles a connection's dispatches in order: once this is answered, the BIND is in place.
  await peer.get(['gateway']);
  return { seen };
}

/** The faulty driver is out, and everything else still answers. */
async function expectIsolated(peer: Client, run: Run, during: string, message: string): Promise<void> {
  expect((await peer.get(['devices', 'faulty'])).body).toMatchObject({ online: false, driver: 'faulty' });
  expect((await answer(peer, ['devices', 'faulty', 'properties', 'level'])).status).toBe(502);
  const drivers = (await peer.get(['drivers'])).body as { name: string }[];
  expect(drivers.find((driver) => driver.name === 'faulty')).toMatchObject({ state: 'failed', failures: 1, devices: 1, lastFailure: { message, during } });
  expect(drivers.find((driver) => driver.name === 'steady')).toMatchObject({ state: 'running', failures: 0 });
  expect((await peer.get(['devices', 'steady', 'properties', 'count'])).status).toBe(200);
  expect(run.child.exitCode).toBeNull();
}

describe('a driver that fails', () => {
  for (const [fail, message] of [
    ['start-throws', 'start blew up'],
    ['start-rejects', 'start rejected'],
  ] as const) {
    it(`in start (${fail}): logged with its name, its device offline, the gateway and the other driver running`, async () => {
      const { run, peer } = await start({ fail });
      expect(await failureLine(run)).toMatchObject({ level: 50, driver: 'faulty', during: 'start', err: { message }, msg: 'driver "faulty" failed (start): its devices are offline' });
      await expectIsolated(peer, run, 'start', message);
    });
  }

  it('later, by a promise it started that rejects with nobody to handle it', async () => {
    const { run, peer } = await start({ fail: 'later' });
    expect(await failureLine(run)).toMatchObject({ driver: 'faulty', during: 'unhandled rejection', err: { message: 'a background task rejected', stack: expect.stringContaining('faulty.js') } });
    await expectIsolated(peer, run, 'unhandled rejection', 'a background task rejected');
  });

  it('inside a handler: its socket data handler throws on a line that is not JSON', async () => {
    const sockets: net.Socket[] = [];
    const closed: Promise<void>[] = [];
    const device = net.createServer((socket) => {
      sockets.push(socket);
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    });
    await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => device.close(() => resolve())));
    cleanups.push(() => sockets.forEach((socket) => socket.destroy()));
    const { run, peer } = await start({ fail: 'handler', port: (device.address() as net.AddressInfo).port });
    await expect.poll(() => sockets.length).toBe(1);

    const level = new Promise((resolve) => peer.bind({ method: 'PATCH', resource: ['devices', 'faulty', 'properties', 'level'] }, ({ body }) => resolve((body as { value: unknown }).value)));
    const wentOffline = await offline(peer, 'faulty');
    sockets[0]!.write('{"level":5}\n');
    expect(await level).toBe(5);

    sockets[0]!.write('not json\n');
    expect(await failureLine(run)).toMatchObject({ driver: 'faulty', during: 'uncaught exception', err: { type: 'SyntaxError' } });
    await wentOffline.seen;
    await expectIsolated(peer, run, 'uncaught exception', expect.stringMatching(/JSON/) as unknown as string);
    // The failed driver was stopped: it let go of its socket.
    await closed[0];
  });

  it('in a request handler only fails that request: 500, and the driver keeps running', async () => {
    const { run, peer } = await start({ fail: 'request' });
    expect(await answer(peer, ['devices', 'faulty', 'properties', 'broken'])).toMatchObject({ status: 500, body: { error: 'broken is not readable today' } });
    expect((await peer.get(['devices', 'faulty', 'properties', 'starts'])).status).toBe(200);
    expect(((await peer.get(['drivers'])).body as { name: string }[]).find((driver) => driver.name === 'faulty')).toMatchObject({ state: 'running', failures: 0 });
    expect(run.stdout.some((line) => parseJson(line)?.code === 'PASARELA_DRIVER_FAILED')).toBe(false);
  });

  it('starts again with backoff, and its devices come back', async () => {
    const { run, peer } = await start({ fail: 'flaky' }, '{ initialMs: 100, maxMs: 100, jitter: 0 }');
    expect(await failureLine(run)).toMatchObject({ driver: 'faulty', during: 'uncaught exception', restartInMs: 100 });
    await run.line('stdout', (text) => parseJson(text)?.msg === 'driver "faulty" starting again');
    await expect.poll(async () => ((await peer.get(['devices', 'faulty'])).body as { online: boolean }).online).toBe(true);
    expect((await peer.get(['devices', 'faulty', 'properties', 'starts'])).body).toBe(2);
    expect(((await peer.get(['drivers'])).body as { name: string }[]).find((driver) => driver.name === 'faulty')).toMatchObject({ state: 'running', failures: 1 });
  });
});

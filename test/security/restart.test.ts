/**
 * Replay across a crash, with the real command: a signed dispatch captured off the
 * wire is accepted once, the gateway is killed with SIGKILL and started again on the
 * same state, and the captured bytes are refused (401 PASARELA_REPLAY) while fresh
 * dispatches of the same signer are accepted, by a new command and by a client that
 * reconnects. The replay state is written in blocks, not once per dispatch.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../gateway/client.js';
import { createDispatch, serializeDispatch } from '../../gateway/jstp/dispatch.js';
import { fileSequenceStore, readIdentityFile } from '../../gateway/security/files.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { SequenceCounter } from '../../gateway/security/sequence.js';
import { DispatchSigner } from '../../gateway/security/signer.js';
import { pasarelaRuns, Run } from '../support/pasarela.js';
import { until } from '../support/until.js';
import { newIdentity, securedConfig, signedClient, tempDir } from './command-helpers.js';

const runs = pasarelaRuns();
let dir: string;
let remove: () => Promise<void>;
let owner: { id: string; file: string };
let config: string;
const clients: Client[] = [];
const gateways: Run[] = [];

/** Sends one JSON line on a fresh socket and resolves with the first non-101 answer's status and body. */
function sendRaw(port: number, line: string, transactionId: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer'));
    }, 10_000);
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const dispatch = JSON.parse(buffer.slice(0, newline)) as { method: string; resource: [number, string]; body: unknown };
        buffer = buffer.slice(newline + 1);
        if (dispatch.method === 'ANSWER' && dispatch.resource[1] === transactionId && dispatch.resource[0] !== 101) {
          clearTimeout(timer);
          socket.end();
          resolve({ status: dispatch.resource[0], body: dispatch.body });
        }
      }
    });
    socket.on('error', reject);
    socket.write(`${line}\n`);
  });
}

async function start(): Promise<number> {
  const run = new Run(['--tcp', '0', '--http', '0', '--config', config]);
  gateways.push(run);
  return (await run.log('ready')).tcp as number;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  [owner] = await Promise.all([newIdentity(runs, dir, 'owner'), newIdentity(runs, dir, 'gateway')]);
  config = await securedConfig(dir, [owner.id]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const run of gateways) run.kill();
  await remove();
});

describe('replay after kill -9', () => {
  it('a captured dispatch is refused after the restart; fresh ones are accepted', async () => {
    const port = await start();
    // A long-lived client: it reconnects when the gateway comes back.
    const lasting = signedClient(`tcp://127.0.0.1:${port}`, { identity: owner.file }, { reconnect: { initialMs: 100, maxMs: 500 } });
    clients.push(lasting);
    await lasting.ready();
    expect((await lasting.get(['devices']).all()).map((a) => a.status)).toEqual([200]);

    // Captured: the exact line a signer sent.
    const signer = new DispatchSigner(readIdentityFile(owner.file, nodeSuite), new SequenceCounter(fileSequenceStore(owner.file)));
    const transactionId = randomUUID();
    const captured = serializeDispatch(signer.sign(createDispatch('GET', ['devices'], { token: [transactionId] })).dispatch);
    expect(await sendRaw(port, captured, transactionId)).toMatchObject({ status: 200 });
    expect(await sendRaw(port, captured, transactionId)).toMatchObject({ status: 401, body: { code: 'PASARELA_REPLAY' } });

    // Many dispatches, few writes: the state is written in blocks.
    const replies = [];
    for (let i = 0; i < 600; i++) replies.push(lasting.get(['devices']).all());
    // The client and the capture used one identity in two processes: two ranges, both accepted.
    const statuses = (await Promise.all(replies)).map((answers) => answers.map((a) => `${a.status} ${JSON.stringify(a.body).slice(0, 80)}`).join());
    expect(statuses.filter((status) => !status.startsWith('200 ')).slice(0, 3)).toEqual([]);
    const stats = (await lasting.get(['gateway', 'security']).all())[0]!.body as { replayWrites: number; verified: number };
    expect(stats.verified).toBeGreaterThanOrEqual(602);
    expect(stats.replayWrites).toBeLessThanOrEqual(8);

    gateways[0]!.kill('SIGKILL');
    await gateways[0]!.exited;
    const again = await start();
    expect(again).not.toBe(0);
    // The same bytes, after the crash.
    expect(await sendRaw(again, captured, transactionId)).toMatchObject({ status: 401, body: { code: 'PASARELA_REPLAY' } });
    const otherToken = randomUUID();
    expect(await sendRaw(again, captured.replace(transactionId, otherToken), otherToken)).toMatchObject({ status: 401, body: { code: 'PASARELA_REPLAY' } });

    // A new command with the same identity: accepted.
    const call = runs.pasarela('call', 'GET', 'devices', '--url', `tcp://127.0.0.1:${again}`, '--identity', owner.file);
    expect((await call.exited).code).toBe(0);
    expect(call.stdout).toEqual(['200 Ok []']);
  }, 60_000);

  it('a client that reconnects to the restarted gateway is accepted at once (it skips a block per connection)', async () => {
    // One gateway per state file: the first test's goes first.
    for (const run of gateways) {
      run.kill('SIGKILL');
      await run.exited;
    }
    const port = await start();
    const c = signedClient(`tcp://127.0.0.1:${port}`, { identity: owner.file }, { reconnect: { initialMs: 100, maxMs: 500 } });
    clients.push(c);
    await c.ready();
    for (let i = 0; i < 300; i++) await c.get(['devices']).all();
    const run = gateways[gateways.length - 1]!;
    run.kill('SIGKILL');
    await run.exited;
    // Back on the same port (the client redials it).
    const back = new Run(['--tcp', String(port), '--http', '0', '--config', config]);
    gateways.push(back);
    await back.log('ready');
    await until(() => c.state === 'open', 'the client to reconnect', 15_000);
    expect((await c.get(['devices']).all()).map((a) => a.status)).toEqual([200]);
  }, 60_000);
});

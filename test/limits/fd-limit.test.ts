/**
 * At the file descriptor limit, as a user runs it: the real `pasarela` command with a
 * YAML config, started under `prlimit --nofile` with few descriptors. Past the limit
 * the kernel would make new clients fail silently (libuv accepts and closes them
 * without a word), so the gateway lowers its connection limit to fit, says so when it
 * starts, refuses what is over it with one log line a minute (not one per refusal),
 * and keeps serving the connections it has.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, parseJson, Run } from '../support/pasarela.js';
import { sleep, waitFor } from '../transports/helpers.js';
import { dispatch, Peer } from './peers.js';

const DESCRIPTORS = 150;
let dir: string;
let run: Run;
let tcp: number;
const peers: Peer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-fd-'));
  const config = join(dir, 'pasarela.yaml');
  await writeFile(config, 'limits:\n  maxConnections: 1000\n  maxConnectionsPerAddress: 1000\n');
  run = new Run(['prlimit', `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`, process.execPath, '--import', 'tsx', CLI, '--config', config, '--tcp', '0', '--http', '0'], 'prlimit');
  tcp = (await run.log('ready')).tcp as number;
});

afterAll(async () => {
  for (const peer of peers) peer.destroy();
  run?.kill();
  await rm(dir, { recursive: true, force: true });
});

function logs(msg: string): Record<string, unknown>[] {
  return run.stdout.map(parseJson).filter((line): line is Record<string, unknown> => line?.msg === msg);
}

describe('pasarela under a low file descriptor limit', () => {
  it('lowers its connection limit to fit, refuses past it with one log line, and keeps serving', async () => {
    const lowered = await run.log('connection limit lowered to fit the file descriptor limit');
    const max = lowered.maxConnections as number;
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThan(DESCRIPTORS);

    for (let i = 0; i < max; i++) peers.push(await Peer.connect(tcp));
    const answers = await Promise.all(peers.map((peer) => peer.ask(dispatch('GET', ['gateway']))));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);

    const refused: Peer[] = [];
    for (let i = 0; i < 30; i++) refused.push(await Peer.connect(tcp));
    await waitFor(() => refused.every((peer) => peer.closed), 'the refusals');
    await run.log('limit exceeded');
    const lines = logs('limit exceeded');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ limit: 'maxConnections', peer: '127.0.0.1', max });

    // The connections it has are served as before.
    const again = await Promise.all(peers.map((peer) => peer.ask(dispatch('GET', ['gateway']))));
    expect(again.every((answer) => answer.status === 200)).toBe(true);
    // One leaves, one more gets in.
    peers.pop()!.destroy();
    const limits = async (): Promise<{ connections: { open: number; refused: number } }> =>
      (await peers[0]!.ask(dispatch('GET', ['gateway', 'limits']))).body as { connections: { open: number; refused: number } };
    let open = max;
    for (let tries = 0; tries < 100 && open === max; tries++) {
      open = (await limits()).connections.open;
      await sleep(20);
    }
    expect(open).toBe(max - 1);
    const late = await Peer.connect(tcp);
    peers.push(late);
    expect((await late.ask(dispatch('GET', ['gateway']))).status).toBe(200);
    expect((await limits()).connections.refused).toBe(30);
  });
});

/**
 * The crash harness, on the real `pasarela` command. Telemetry flows into the gateway
 * while its uplink is down, and the gateway is killed with SIGKILL at a random moment
 * (seeded), then started again: 50 rounds. Then a few rounds more with the far end up,
 * killed while dispatches are in flight. Then the gateway runs until its queue is
 * empty, and the history checker proves that every dispatch the gateway answered as
 * accepted arrived, in order, with duplicates on the wire only in the replay at the
 * start of a link (what was in flight when the last one died) and none after the
 * receiver's dedup.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UplinkStatus } from '../../gateway/uplinks/uplink.js';
import { Random } from '../../firmware-sim/sensors/random.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { connectedClient } from '../support/connected-client.js';
import { deadPort, pasarelaRuns, type Run } from '../support/pasarela.js';
import { checkHistory, eventually, startFarEnd, temporaryFolder, type FarEnd } from './harness.js';
import { produce } from './producer.js';

const { gateway: startPasarela } = pasarelaRuns();
const cleanups = cleanupsAfterEach();
const folder = temporaryFolder('pasarela-crash-');


const SEED = Number(process.env.PASARELA_CRASH_SEED ?? 20261217);
const DOWN_ROUNDS = 50;
const LIVE_ROUNDS = 3;

async function killed(run: Run): Promise<void> {
  run.kill('SIGKILL');
  await run.exited;
}

describe('the crash harness', () => {
  // About a minute on a quiet 2-core machine; the timeout's margin is for one running the whole suite.
  it(`kill -9 at random moments (${DOWN_ROUNDS} rounds with the uplink down, ${LIVE_ROUNDS} with it up, seed ${SEED}): every accepted dispatch arrives once, in order`, async () => {
    // Seeded, so a failing round can be replayed (PASARELA_CRASH_SEED).
    const random = new Random(SEED);
    const port = await deadPort();
    const config = join(folder(), 'pasarela.yaml');
    await writeFile(
      config,
      [
        'uplinks:',
        '  - name: cloud',
        `    url: tcp://127.0.0.1:${port}`,
        '    sender: crash-pi',
        '    forward: ["PATCH devices/..."]',
        '    buffer: { path: store/uplinks.sqlite }',
        '    reconnect: { initialMs: 20, maxMs: 100 }',
        '',
      ].join('\n'),
    );
    const accepted: number[] = [];
    let next = 0;
    const started = Date.now();
    let far: FarEnd | undefined;
    cleanups.push(() => far?.close());

    for (let round = 0; round < DOWN_ROUNDS + LIVE_ROUNDS; round++) {
      if (round === DOWN_ROUNDS) far = await startFarEnd({ port });
      const { run, tcp } = await startPasarela('-c', config);
      const producer = produce({ port: tcp, from: next, window: 16 });
      // Anywhere from at once to 120 ms in: often inside a group commit. Short rounds: a
      // round costs mostly the command's start (about 1 s on a quiet 2-core machine).
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random.next() * 120)));
      await killed(run);
      await producer.stop();
      accepted.push(...producer.accepted);
      next += producer.sent;
    }
    far ??= await startFarEnd({ port });
    const crashedFor = Date.now() - started;

    // The last start: the queue drains to the far end.
    const { tcp } = await startPasarela('-c', config);
    const client = await connectedClient(tcp, cleanups);
    let status: UplinkStatus | undefined;
    await eventually(async () => {
      status = ((await client.get(['gateway', 'uplinks'])).body as UplinkStatus[])[0];
      return status?.connected === true && status.queued.count === 0;
    }, 'the queue to drain', 30_000);

    const figures = checkHistory({ accepted, raw: far.raw, delivered: far.delivered });
    expect(accepted.length).toBeGreaterThan(DOWN_ROUNDS);
    console.log(
      `crash harness: seed ${SEED}, ${DOWN_ROUNDS + LIVE_ROUNDS} kill -9 rounds in ${(crashedFor / 1000).toFixed(1)} s; ` +
        `${next} sent, ${figures.accepted} accepted, ${figures.arrived} arrived after dedup (${figures.extra} sent but unanswered when killed, kept anyway), ` +
        `${figures.duplicatesOnTheWire} duplicates on the wire (dropped by dedup) over ${figures.sessions} link sessions, 0 lost, 0 out of order`,
    );
  }, 300_000);
});

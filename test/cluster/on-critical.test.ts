/**
 * Adding an instance: `saturation.onCritical` starts a real second `pasarela` that
 * joins the first, and a balancing client that only knew the first sends its traffic
 * to the newcomer. The first instance's data folder is a small tmpfs the test fills
 * (root only: skipped with the reason printed otherwise).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connect } from '../../gateway/client.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { parseJson, ROOT } from '../support/pasarela.js';
import { mountTmpfs, skipWithoutTmpfs } from '../support/tmpfs.js';
import { until } from '../support/until.js';
import { instances, metricOf, onlyCounting } from './instances.js';

const { start, dir } = instances();
const cleanups = cleanupsAfterEach();
let started: number | undefined;
afterEach(() => {
  // The instance onCritical started is no child of the test: killed by its pid.
  if (started !== undefined) {
    try {
      process.kill(started, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  started = undefined;
});

/** The `ready` line of a log file another process writes. */
async function readyLine(file: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const ready = text.split('\n').map((line) => parseJson(line)).find((line) => line?.msg === 'ready');
    if (ready) return ready;
    if (Date.now() > deadline) throw new Error(`no ready line in ${file}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('onCritical', () => {
  it('starts a joining instance that then receives the traffic', async (context) => {
    skipWithoutTmpfs(context);
    const disk = await mountTmpfs(8 * 1024 * 1024);
    cleanups.push(() => disk.unmount());
    const folder = await dir();
    const log = join(folder, 'second.log');
    const pid = join(folder, 'second.pid');
    const secondConfig = join(folder, 'second.yaml');
    const saturation = { periodS: 1, sustain: 2, windowS: 1, thresholds: onlyCounting('disk') };
    const cluster = { name: 'svc', replicated: [['gateway']], leaveAfterS: 3 };

    const first = await start({
      saturation: {
        ...saturation,
        dataDir: disk.path,
        onCritical: {
          // What `systemctl start pasarela@2` would do: start an instance that joins this one, and return.
          run: `cd ${ROOT}; ${process.execPath} --import tsx gateway/cli.ts --config ${secondConfig} > ${log} 2>&1 & echo $! > ${pid}`,
          cooldownS: 300,
        },
      },
      cluster: { ...cluster, member: 'first' },
    });
    await writeFile(secondConfig, stringify({ listen: { tcp: 0, http: 0 }, saturation, cluster: { ...cluster, member: 'second', join: [first.url] } }));

    const client = connect({ urls: [first.url], reconnect: { initialMs: 100, maxMs: 1_000 } });
    cleanups.push(() => client.close());
    await client.ready();
    for (let i = 0; i < 20; i++) await client.get(['gateway']);
    expect(client.members().map((member) => member.id)).toEqual(['first']);

    await disk.fill(0.97);
    await until(() => first.logs('onCritical exited').length > 0, 'the command to run', 15_000);
    started = Number((await readFile(pid, 'utf8')).trim());
    const secondHttp = (await readyLine(log)).http as number;

    // The client learns of it from the first and, the first draining, sends it everything.
    await until(() => client.members().some((member) => member.id === 'second' && member.state === 'ready'), 'the client to link the second', 20_000);
    const before = (await metricOf(secondHttp, 'pasarela_requests_total')) ?? 0;
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await client.get(['gateway']));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(((await metricOf(secondHttp, 'pasarela_requests_total')) ?? 0) - before).toBeGreaterThanOrEqual(30);
    expect(first.logs('saturation critical: running onCritical')).toHaveLength(1);
  });
});

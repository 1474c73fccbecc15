/**
 * The `limits:` section as a user writes it: the real `pasarela` with a YAML config,
 * its limits in force shown by `pasarela call GET gateway/limits`, a request over one
 * answered 400 with the limit's name, and a limit out of range refused with the key.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pasarelaRuns } from '../support/pasarela.js';
import { dispatch, nested, Peer } from './peers.js';

const { pasarela, gateway } = pasarelaRuns();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-limits-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('limits: in a config file', () => {
  it('are in force, shown by GET gateway/limits, and name themselves in a 400', async () => {
    const config = join(dir, 'limits.yaml');
    await writeFile(config, 'limits:\n  maxDepth: 4\n  maxHops: 2\n');
    const { run, tcp } = await gateway('--config', config);
    const url = `tcp://127.0.0.1:${tcp}`;

    const peer = await Peer.connect(tcp);
    try {
      const answer = await peer.ask(dispatch('PUT', ['things', 'x'], { body: nested(5) }));
      expect(answer).toMatchObject({ status: 400, body: { reason: expect.stringMatching(/^maxDepth: body nests deeper than 4 levels/) } });
    } finally {
      peer.destroy();
    }
    await run.log('limit exceeded');

    const call = pasarela('call', 'GET', 'gateway/limits', '--url', url);
    expect((await call.exited).code).toBe(0);
    const [status, ...json] = call.stdout.join('\n').split(' ');
    expect(status).toBe('200');
    const body = JSON.parse(json.slice(1).join(' ')) as { limits: Record<string, number>; exceeded: Record<string, number> };
    expect(body.limits).toMatchObject({ maxDepth: 4, maxHops: 2, maxResourceElements: 32 });
    expect(body.exceeded).toEqual({ maxDepth: 1 });
  });

  it('a limit out of range is a config error that names it', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(config, 'limits:\n  maxDepth: 40\n');
    const run = pasarela('--config', config);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('\n')).toMatch(/bad\.yaml:2: limits\.maxDepth: expected/);
  });
});

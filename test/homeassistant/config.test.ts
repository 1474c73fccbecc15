/**
 * The `homeassistant` section as the command reads it: discovery needs the broker
 * Home Assistant uses (`mqtt.url`), and a misspelt key is named with the ones it could be.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pasarelaRuns } from '../support/pasarela.js';

const { pasarela } = pasarelaRuns();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-ha-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configError(yaml: string): Promise<{ code: number | null; stderr: string }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  const run = pasarela('--config', file, '--tcp', '0', '--http', '0');
  const { code } = await run.exited;
  return { code, stderr: run.stderr.join('\n').replaceAll(file, 'FILE') };
}

describe('the homeassistant config section', () => {
  it('needs mqtt.url for discovery: the embedded broker is not the one Home Assistant uses', async () => {
    expect(await configError('homeassistant: { discovery: true }\n')).toEqual({
      code: 2,
      stderr: 'pasarela: config error: FILE:1: homeassistant.discovery: expected mqtt.url to be set too (the broker Home Assistant uses)',
    });
  });

  it('names a misspelt key and the keys there are', async () => {
    const result = await configError('mqtt: { url: mqtt://127.0.0.1:1 }\nhomeassistant:\n  discovery: true\n  prefx: ha\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('pasarela: config error: FILE:4: homeassistant.prefx: expected one of the keys discovery, prefix, node, pollSeconds, got unknown key "prefx"');
  });

  it('refuses a prefix that is not one topic level', async () => {
    const result = await configError('mqtt: { url: mqtt://127.0.0.1:1 }\nhomeassistant: { prefix: "home/#" }\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/homeassistant\.prefix: expected one topic level \(no \/, \+ or #\)/);
  });
});

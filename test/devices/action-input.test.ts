/**
 * Actions as people call them, through the real command on the demo's coffee maker:
 * `pasarela call POST devices/coffee/actions/brew` with no input brews (its `size`
 * defaults to `medium`), and a bad input is answered 400 naming the field, what was
 * expected with the allowed values, and what came.
 */
import { describe, expect, it } from 'vitest';
import { connect } from '../../gateway/client.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { pasarelaRuns } from '../support/pasarela.js';

const { pasarela, gateway } = pasarelaRuns();
const cleanups = cleanupsAfterEach();

describe('action input', () => {
  it('fills defaults, and a 400 names the field, the allowed values and what came', async () => {
    const { tcp } = await gateway('--demo');
    const url = `tcp://127.0.0.1:${tcp}`;
    const client = connect(url, { reconnect: false });
    cleanups.push(() => client.close());
    await client.ready();
    await expect.poll(async () => ((await client.get(['devices', 'coffee'])).body as { online: boolean }).online, { timeout: 15_000 }).toBe(true);
    const description = (await client.get(['devices', 'coffee'])).body as { actions: { brew: { input: { properties: Record<string, { default?: unknown }> } } } };
    expect(description.actions.brew.input.properties.size!.default).toBe('medium');

    const huge = pasarela('call', 'POST', 'devices/coffee/actions/brew', '--body', '{"size":"huge"}', '--url', url);
    expect((await huge.exited).code).toBe(1);
    expect(huge.stdout).toEqual(['400 Bad Dispatch {"error":"brew: input.size: expected one of small, medium, large, got \\"huge\\"","code":"PASARELA_BAD_VALUE"}']);
    const extra = pasarela('call', 'POST', 'devices/coffee/actions/brew', '--body', '{"size":"small","sugar":2}', '--url', url);
    expect((await extra.exited).code).toBe(1);
    expect(extra.stdout[0]).toContain('brew: input: expected only the fields size, strength, got unknown field \\"sugar\\"');

    const brew = pasarela('call', 'POST', 'devices/coffee/actions/brew', '--url', url);
    expect((await brew.exited).code).toBe(0);
    expect(brew.stdout).toEqual(['200 Ok {"state":"heating"}']);
  });
});

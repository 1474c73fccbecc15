/**
 * Forwarding as a user runs it: real `pasarela` processes, one with `--forwarding`,
 * others with `jstp.forwarding` in a YAML config, and node-jstp as a next hop. A
 * dispatch with a `host` goes in over a raw TCP socket to the first process; its
 * ANSWER must come back from the process (or node-jstp engine) the hop names.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNodeJstp, type NodeJstpPeer } from '../support/node-jstp.js';
import { deadPort, Run } from '../support/pasarela.js';
import { dispatch, RawTcpPeer, waitFor } from '../transports/helpers.js';

interface Process {
  run: Run;
  tcp: number;
}

const runs: Run[] = [];
const peers: RawTcpPeer[] = [];
let dir: string;
/** `pasarela --forwarding`: no drivers. */
let a: Process;
/** forwarding from its YAML config, and an MQTT broker URL: so `drivers: ["mqtt"]` tells it apart. */
let b: Process;
let node: NodeJstpPeer;

async function gateway(...args: string[]): Promise<Process> {
  const run = new Run(['--tcp', '0', '--http', '0', ...args]);
  runs.push(run);
  const ready = await run.log('ready');
  return { run, tcp: ready.tcp as number };
}

async function yamlGateway(name: string, yaml: string): Promise<Process> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, yaml);
  return gateway('--config', path);
}

/** Sends GET ["gateway"] (or `resource`) to `port` with `host`, and resolves with its first ANSWER. */
async function askThrough(port: number, host: [string, number, string][], resource: string[] = ['gateway']): Promise<{ status: number; body: unknown }> {
  const peer = await RawTcpPeer.connect(port);
  peers.push(peer);
  const id = randomUUID();
  peer.send(dispatch('GET', resource, { token: [id], host }));
  const isAnswer = (item: Record<string, unknown>): boolean => item.method === 'ANSWER' && (item.resource as unknown[])[1] === id;
  await waitFor(() => peer.received.some(isAnswer), `the ANSWER to ${id}`, 10_000);
  const answer = peer.received.find(isAnswer)!;
  return { status: (answer.resource as number[])[0]!, body: answer.body };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-forwarding-'));
  const noBroker = await deadPort();
  [a, b, node] = await Promise.all([
    gateway('--forwarding'),
    yamlGateway('b', `jstp:\n  forwarding: { enabled: true }\nmqtt: { url: "mqtt://127.0.0.1:${noBroker}" }\n`),
    startNodeJstp({ tcpPort: 0 }),
  ]);
  await node.bind({ method: 'GET', resource: ['gateway'] }, { answers: [{ status: 200, body: { name: 'node-jstp' } }] });
});

afterEach(() => {
  for (const peer of peers.splice(0)) peer.socket.destroy();
});

afterAll(async () => {
  for (const run of runs) run.kill();
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('pasarela --forwarding and jstp.forwarding', () => {
  it('sends a dispatch on to the next pasarela process, and its ANSWER comes back', async () => {
    // The answer is B's: it runs the MQTT driver, A runs none.
    const viaA = await askThrough(a.tcp, [['127.0.0.1', b.tcp, 'tcp']]);
    expect(viaA).toEqual({ status: 200, body: expect.objectContaining({ name: 'pasarela', drivers: ['mqtt'] }) });
    // And the other way, forwarding enabled by B's config file.
    const viaB = await askThrough(b.tcp, [['127.0.0.1', a.tcp, 'tcp']]);
    expect(viaB).toEqual({ status: 200, body: expect.objectContaining({ name: 'pasarela', drivers: [] }) });
    // Asked directly, each answers for itself.
    expect((await askThrough(a.tcp, [])).body).toMatchObject({ drivers: [] });
  });

  it('forwards to a node-jstp engine; its ANSWER reaches the caller through the pasarela process', async () => {
    const answer = await askThrough(a.tcp, [['127.0.0.1', node.tcpPort!, 'tcp']]);
    expect(answer).toEqual({ status: 200, body: { name: 'node-jstp' } });
  });

  it('answers 506 to a hop that jstp.forwarding.allow does not list, and forwards to one it does', async () => {
    const c = await yamlGateway('c', `jstp:\n  forwarding:\n    enabled: true\n    allow: ["127.0.0.1:${b.tcp}"]\n`);
    expect((await askThrough(c.tcp, [['127.0.0.1', a.tcp, 'tcp']])).status).toBe(506);
    expect(await askThrough(c.tcp, [['127.0.0.1', b.tcp, 'tcp']])).toEqual({ status: 200, body: expect.objectContaining({ drivers: ['mqtt'] }) });
  });

  it('answers 506 without forwarding (the default)', async () => {
    const off = await gateway();
    expect((await askThrough(off.tcp, [['127.0.0.1', a.tcp, 'tcp']])).status).toBe(506);
  });
});

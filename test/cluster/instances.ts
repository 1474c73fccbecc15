/**
 * Real instances for the saturation and cluster tests: `pasarela` itself, or the
 * key-value example of docs/ (a program built on the package), each spawned from the
 * TypeScript source with a config file written for it, on free ports. Each is killed
 * after its test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { stringify } from 'yaml';
import { ROOT, Run, parseJson } from '../support/pasarela.js';

export const KV_MAIN = join(ROOT, 'docs', 'examples', 'kv-store', 'main.ts');

/** Leaves every resource but the listed ones out of the level: the test machine's CPU is shared. */
export function onlyCounting(...resources: string[]): Record<string, false> {
  return Object.fromEntries(['cpu', 'eventLoop', 'memory', 'disk', 'network'].filter((r) => !resources.includes(r)).map((r) => [r, false]));
}

export interface Instance {
  readonly run: Run;
  readonly tcp: number;
  readonly http: number;
  readonly url: string;
  readonly wsUrl: string;
  /** A metric's value from GET /metrics (the first line of that name and labels). */
  metric(name: string): Promise<number | undefined>;
  /** The JSON log lines whose msg is `msg`, so far. */
  logs(msg: string): Record<string, unknown>[];
}

export async function metricOf(http: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

export function instances(): {
  dir(): Promise<string>;
  /** Writes `config` to a file and starts `pasarela --config` on it (or the key-value example with `kind: 'kv'`). */
  start(config: Record<string, unknown>, options?: { kind?: 'pasarela' | 'kv'; name?: string; prefix?: string[] }): Promise<Instance>;
  /** Starts a process whose config file is already written, for a restart on the same ports. */
  restart(file: string, kind?: 'pasarela' | 'kv', prefix?: string[]): Promise<Instance>;
  track(run: Run): Run;
} {
  const runs: Run[] = [];
  let folder: string | undefined;
  let count = 0;
  afterEach(() => {
    for (const run of runs.splice(0)) run.kill();
  });
  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true });
  });
  const dir = async () => (folder ??= await mkdtemp(join(tmpdir(), 'pasarela-cluster-')));
  const launch = async (file: string, kind: 'pasarela' | 'kv', prefix: string[]): Promise<Instance> => {
    const args = kind === 'kv' ? [process.execPath, '--import', 'tsx', KV_MAIN, '--config', file] : [process.execPath, '--import', 'tsx', join(ROOT, 'gateway', 'cli.ts'), '--config', file];
    // Through `env` (or the prefix, e.g. taskset): Run treats the node binary itself as `pasarela`.
    const [command = 'env', ...rest] = prefix;
    const run = new Run([...rest, ...args], command);
    runs.push(run);
    const ready = await run.log('ready');
    const tcp = ready.tcp as number;
    const http = ready.http as number;
    return {
      run,
      tcp,
      http,
      url: `tcp://127.0.0.1:${tcp}`,
      wsUrl: `ws://127.0.0.1:${http}`,
      metric: (name) => metricOf(http, name),
      logs: (msg) => run.stdout.map((line) => parseJson(line)).filter((line): line is Record<string, unknown> => line?.msg === msg),
    };
  };
  return {
    dir,
    track(run) {
      runs.push(run);
      return run;
    },
    async start(config, options = {}) {
      const file = join(await dir(), `${options.name ?? `instance-${++count}`}.yaml`);
      const withPorts = { ...config, listen: { tcp: 0, http: 0, ...(config.listen as object | undefined) } };
      await writeFile(file, stringify(withPorts));
      return launch(file, options.kind ?? 'pasarela', options.prefix ?? []);
    },
    restart: (file, kind = 'pasarela', prefix = []) => launch(file, kind, prefix),
  };
}

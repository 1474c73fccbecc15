import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, ConfigError, defaultConfig, loadConfig, parseConfig } from '../../gateway/config.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(path: string): Promise<ConfigError> {
  const error = await loadConfig(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).code).toBe(ErrorCode.Config);
  return error as ConfigError;
}

describe('defaults', () => {
  it('match DESIGN.md', () => {
    expect(defaultConfig()).toEqual({
      listen: { host: '127.0.0.1', tcp: 33333, http: 8080 },
      jstp: { mode: 'strict', answerTimeoutMs: 10_000, forwarding: { enabled: false, allow: [] } },
      log: { level: 'info' },
      mqtt: {},
      limits: {
        maxResourceElements: 32,
        maxResourceBytes: 1024,
        maxHops: 8,
        maxDepth: 16,
        maxSubscriptionsPerConnection: 1000,
        maxSubscriptions: 10_000,
        maxConnections: 1000,
        maxConnectionsPerAddress: 100,
        maxDispatchBytes: 1024 * 1024,
        maxPendingInputBytes: 64 * 1024 * 1024,
        lineTimeoutMs: 10_000,
        maxBufferedOutputBytes: 8 * 1024 * 1024,
        keepAliveMs: 30_000,
        idleProbeMs: 30_000,
      },
      devices: [],
      saturation: { enabled: true, periodS: 5, dataDir: '.', paths: [], interfaces: [], sustain: 3, windowS: 10, thresholds: Object.fromEntries(['cpu', 'eventLoop', 'memory', 'disk', 'network'].map((r) => [r, { warn: 0.85, critical: 0.95, clear: 0.7 }])) },
      drivers: [],
      profiles: [],
    });
  });

  it('fill in what a partial config leaves out', () => {
    const config = parseConfig({ listen: { tcp: 4000 }, jstp: { forwarding: { enabled: true } } }, 'test');
    expect(config.listen).toEqual({ host: '127.0.0.1', tcp: 4000, http: 8080 });
    expect(config.jstp.forwarding).toEqual({ enabled: true, allow: [] });
    expect(config.jstp.mode).toBe('strict');
  });

  it('treat an empty YAML section as absent', () => {
    expect(parseConfig({ listen: null, devices: null }, 'test')).toEqual(defaultConfig());
  });
});

describe('loadConfig', () => {
  it('reads YAML (.yaml and .yml)', async () => {
    const text = [
      'listen: { host: 0.0.0.0, tcp: 4001, http: 0 }',
      'jstp:',
      '  mode: quirks',
      '  answerTimeoutMs: 500',
      '  forwarding: { enabled: true, allow: ["10.0.0.7:33333"] }',
      'log: { level: debug }',
      'mqtt: { url: "mqtt://127.0.0.1:1883" }',
      'devices:',
      '  - { id: kitchen, driver: mqtt, profile: json-sensor, topic: home/kitchen }',
    ].join('\n');
    for (const name of ['a.yaml', 'a.yml']) {
      const config = await loadConfig(await file(name, text));
      expect(config.listen).toEqual({ host: '0.0.0.0', tcp: 4001, http: 0 });
      expect(config.jstp).toEqual({ mode: 'quirks', answerTimeoutMs: 500, forwarding: { enabled: true, allow: ['10.0.0.7:33333'] } });
      expect(config.log.level).toBe('debug');
      expect(config.mqtt.url).toBe('mqtt://127.0.0.1:1883');
      // Driver-specific fields pass through untouched.
      expect(config.devices).toEqual([{ id: 'kitchen', driver: 'mqtt', profile: 'json-sensor', topic: 'home/kitchen' }]);
    }
  });

  it('reads JSON', async () => {
    const config = await loadConfig(await file('b.json', JSON.stringify({ listen: { tcp: 5000 } })));
    expect(config.listen.tcp).toBe(5000);
    expect(config.listen.http).toBe(8080);
  });

  it('reads an empty YAML file as all defaults', async () => {
    expect(await loadConfig(await file('empty.yaml', ''))).toEqual(defaultConfig());
  });

  it('names the file, the key, the line and what was expected for a wrong type', async () => {
    const path = await file('wrong.yaml', 'listen:\n  tcp: 33333\njstp:\n  answerTimeoutMs: soon\n');
    const error = await loadError(path);
    expect(error.source).toBe(path);
    expect(error.issues).toEqual([{ key: 'jstp.answerTimeoutMs', expected: 'number, got string "soon"', line: 4 }]);
    expect(error.message).toContain(`${path}:4`);
    expect(error.message).toContain('jstp.answerTimeoutMs');
    expect(error.message).toContain('expected number');
  });

  it('lists every problem, each with its key', async () => {
    const path = await file('many.yaml', 'listen: { tcp: 1.5, http: 70000 }\njstp: { mode: lax }\nlog: { level: loud }\n');
    const error = await loadError(path);
    expect(error.issues.map((issue) => issue.key).sort()).toEqual(['jstp.mode', 'listen.http', 'listen.tcp', 'log.level']);
    expect(error.message).toContain('listen.tcp: expected an integer, got number 1.5');
    expect(error.message).toContain('jstp.mode: expected one of "strict", "quirks", got string "lax"');
  });

  it('rejects unknown keys (typos) and names the known ones', async () => {
    const error = await loadError(await file('typo.yaml', 'listen:\n  tpc: 1\n'));
    expect(error.issues[0]!.key).toBe('listen.tpc');
    expect(error.issues[0]!.line).toBe(2);
    expect(error.message).toContain('host, tcp, http');
  });

  it('checks devices: id and driver required, ids unique', async () => {
    const missing = await loadError(await file('devices.json', JSON.stringify({
      devices: [{ id: 'a', driver: 'mqtt' }, { driver: 'ble' }],
    })));
    expect(missing.issues.map((issue) => issue.key)).toEqual(['devices[1].id']);
    const twice = await loadError(await file('twice.yaml', 'devices:\n  - { id: a, driver: mqtt }\n  - { id: a, driver: serial }\n'));
    expect(twice.issues).toEqual([{ key: 'devices[1].id', expected: 'a unique device id ("a" is used twice)', line: 3 }]);
  });

  it('takes standby: as a boolean, and only in a fleet', async () => {
    const lonely = await loadError(await file('standby.yaml', 'devices:\n  - { id: a, driver: mqtt, standby: true }\n'));
    expect(lonely.issues).toEqual([{ key: 'devices[0].standby', expected: 'a fleet section too (a standby takes over from another gateway of the fleet)', line: 2 }]);
    const wrong = await loadError(await file('standby-type.yaml', 'devices:\n  - { id: a, driver: mqtt, standby: yes please }\n'));
    expect(wrong.issues.map((issue) => issue.key)).toEqual(['devices[0].standby']);
  });

  it('names file and line for YAML syntax errors', async () => {
    const path = await file('syntax.yaml', 'listen:\n  tcp: 1\njstp: { mode: strict\nlog: {}\n');
    const error = await loadError(path);
    expect(error.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`));
    expect(error.message).toContain('YAML syntax error at line');
  });

  it('names file and line for JSON syntax errors', async () => {
    const path = await file('syntax.json', '{\n  "listen": {},\n}\n');
    const error = await loadError(path);
    expect(error.message).toContain(`${path}:3`);
    expect(error.message).toContain('JSON syntax error');
  });

  it('refuses unknown extensions and missing files', async () => {
    expect((await loadError(await file('c.toml', ''))).message).toContain('expected .yaml, .yml or .json');
    expect((await loadError(join(dir, 'missing.yaml'))).message).toContain('ENOENT');
  });
});

describe('overrides (flags)', () => {
  it('win over the file, key by key', async () => {
    const path = await file('base.yaml', 'listen: { host: 0.0.0.0, tcp: 4000, http: 4001 }\nlog: { level: warn }\n');
    const config = await loadConfig(path, { listen: { tcp: 0 }, jstp: { forwarding: { enabled: true } } });
    expect(config.listen).toEqual({ host: '0.0.0.0', tcp: 0, http: 4001 });
    expect(config.log.level).toBe('warn');
    expect(config.jstp.forwarding.enabled).toBe(true);
  });

  it('undefined means "not given"', () => {
    const config = applyOverrides(defaultConfig(), { listen: { host: undefined, tcp: 1 } });
    expect(config.listen).toEqual({ host: '127.0.0.1', tcp: 1, http: 8080 });
  });

  it('are validated, and blamed on the flags', () => {
    expect(() => applyOverrides(defaultConfig(), { listen: { tcp: 70_000 } })).toThrowError(/flags: listen\.tcp/);
  });
});

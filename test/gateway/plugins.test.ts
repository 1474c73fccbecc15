/**
 * startGateway's plugins over real sockets: they start in order before the transports
 * listen, see the one registry, stop in reverse order (a failing stop is logged with
 * its name and the others still run), a failing start undoes what started, and
 * driver plugins show up in `GET ["gateway"]`.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Driver, DriverContext } from '../../drivers/driver.js';
import { connect, type Client } from '../../gateway/client.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway, type GatewayPlugin, type GatewayPorts, type PluginContext } from '../../gateway/gateway.js';
import { driverPlugin, preparedDriverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { errors } from '../../gateway/jstp/errors.js';
import { memoryDriver, SimulatedLamp } from '../devices/memory-driver.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

function testConfig(extra: Record<string, unknown> = {}) {
  return parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http: 0 }, log: { level: 'silent' }, ...extra }, 'test');
}

async function start(plugins: GatewayPlugin[], options: { config?: ReturnType<typeof testConfig>; logLines?: string[]; configDir?: string } = {}): Promise<Gateway> {
  const logger = options.logLines
    ? pino({ level: 'debug' }, new Writable({ write: (chunk, _encoding, done) => (options.logLines!.push(String(chunk)), done()) }))
    : undefined;
  const gateway = await startGateway(options.config ?? testConfig(), {
    plugins,
    ...(logger ? { logger } : {}),
    ...(options.configDir ? { configDir: options.configDir } : {}),
  });
  cleanups.push(() => gateway.close());
  return gateway;
}

async function client(gateway: Gateway): Promise<Client> {
  const peer = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`, { reconnect: false });
  cleanups.push(() => peer.close());
  await peer.ready();
  return peer;
}

/** A plugin that records its start and stop in `events`. */
function recorder(name: string, events: string[], behaviour: { failStart?: boolean; failStop?: boolean } = {}): GatewayPlugin {
  return {
    name,
    async start() {
      events.push(`start ${name}`);
      if (behaviour.failStart) throw new Error(`${name} cannot start`);
      return () => {
        events.push(`stop ${name}`);
        if (behaviour.failStop) throw new Error(`${name} cannot stop`);
      };
    },
  };
}

function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('gateway plugins', () => {
  it('start in order before the transports listen; `ready` then gives the bound ports', async () => {
    const seen: { tcpBound: boolean; httpBound: boolean }[] = [];
    let readyPorts: Promise<GatewayPorts> | undefined;
    const plugin: GatewayPlugin = {
      name: 'early',
      async start(context) {
        seen.push({ tcpBound: context.transports.tcp.address() !== undefined, httpBound: context.transports.ws.address() !== undefined });
        readyPorts = context.ready;
        // Bound before any peer can connect: the first dispatch already finds it.
        const unbind = context.engine.bind({ method: 'GET', resource: ['early'] }, () => 'in place');
        return unbind;
      },
    };
    const gateway = await start([plugin]);
    expect(seen).toEqual([{ tcpBound: false, httpBound: false }]);
    expect(await readyPorts).toEqual(gateway.ports);
    const peer = await client(gateway);
    expect((await peer.get(['early'])).body).toBe('in place');
  });

  it('stop in reverse order on close; a failing stop is logged with its name and the others still run', async () => {
    const events: string[] = [];
    const logLines: string[] = [];
    const gateway = await start([recorder('a', events), recorder('b', events, { failStop: true }), recorder('c', events)], { logLines });
    expect(events).toEqual(['start a', 'start b', 'start c']);
    await gateway.close();
    expect(events).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
    const failures = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'plugin failed to stop');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ plugin: 'b', err: { message: 'b cannot stop' } });
    expect(await listens(gateway.ports.tcp)).toBe(false);
  });

  it('a failing start fails the gateway: what started stops in reverse, later plugins never start, nothing listens', async () => {
    const events: string[] = [];
    const config = testConfig();
    let tcp: net.AddressInfo | undefined;
    const watcher: GatewayPlugin = {
      name: 'watcher',
      async start(context) {
        void context.ready.then(() => events.push('ready'));
        return () => {
          tcp = context.transports.tcp.address() as net.AddressInfo | undefined;
        };
      },
    };
    await expect(start([watcher, recorder('a', events), recorder('b', events, { failStart: true }), recorder('c', events)], { config })).rejects.toThrow(
      'b cannot start',
    );
    expect(events).toEqual(['start a', 'start b', 'stop a']);
    // The transports never listened, and `ready` never resolved.
    expect(tcp).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).not.toContain('ready');
  });

  it('get a logger named after them, the config, its folder, and the one registry', async () => {
    const logLines: string[] = [];
    let context: PluginContext | undefined;
    const gateway = await start(
      [
        {
          name: 'curious',
          async start(given) {
            context = given;
            given.logger.info('hello from a plugin');
          },
        },
      ],
      { logLines, configDir: '/etc/pasarela' },
    );
    expect(context?.registry).toBe(gateway.registry);
    expect(context?.engine).toBe(gateway.engine);
    expect(context?.configDir).toBe('/etc/pasarela');
    expect(context?.config.listen.host).toBe('127.0.0.1');
    expect(context?.forwarding).toBeUndefined();
    const hello = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'hello from a plugin');
    expect(hello).toMatchObject({ plugin: 'curious' });
  });

  it('get the forwarding pool when forwarding is on', async () => {
    let context: PluginContext | undefined;
    await start([{ name: 'p', start: async (given) => void (context = given) }], { config: testConfig({ jstp: { forwarding: { enabled: true } } }) });
    expect(context?.forwarding?.enabled).toBe(true);
  });

  it('must have distinct names', async () => {
    await expect(start([recorder('twin', []), recorder('twin', [])])).rejects.toThrow('two plugins are named "twin"');
  });

  it('add HTTP routes on the dashboard port; a failing route answers 500', async () => {
    let removeOk: (() => void) | undefined;
    let duplicate: unknown;
    const gateway = await start([
      {
        name: 'routes',
        async start(context) {
          removeOk = context.http.route('/ok', (_request, response) => void response.writeHead(200, { 'content-type': 'text/plain' }).end('fine\n'));
          context.http.route('/broken', async () => {
            throw new Error('route broke');
          });
          try {
            context.http.route('/ok', () => undefined);
          } catch (error) {
            duplicate = error;
          }
        },
      },
    ]);
    const base = `http://127.0.0.1:${gateway.ports.http}`;
    const ok = await fetch(`${base}/ok?with=query`);
    expect([ok.status, await ok.text()]).toEqual([200, 'fine\n']);
    const broken = await fetch(`${base}/broken`);
    expect([broken.status, await broken.text()]).toEqual([500, 'internal error\n']);
    expect(String(duplicate)).toContain('/ok is already taken');
    removeOk?.();
    // Back to the dashboard's files, which have no /ok.
    const gone = await fetch(`${base}/ok`);
    expect(gone.status).not.toBe(200);
    await gone.arrayBuffer();
  });
});

describe('driver plugins', () => {
  it('run a driver on the gateway registry; GET ["gateway"] lists drivers, not other plugins', async () => {
    const lamp = new SimulatedLamp();
    const gateway = await start([recorder('not-a-driver', []), driverPlugin(memoryDriver(lamp))]);
    const peer = await client(gateway);
    expect((await peer.get(['gateway'])).body).toMatchObject({ name: 'pasarela', drivers: ['memory'] });
    expect(gateway.registry.list().map((device) => device.id)).toEqual(['lamp']);
    expect((await peer.get(['devices'])).body).toEqual([expect.objectContaining({ id: 'lamp', driver: 'memory', online: true })]);
    await gateway.close();
    expect(gateway.registry.list()).toEqual([]);
    expect(gateway.registry.drivers()).toEqual([]);
  });

  it('hand the driver its configured devices, extra ones not configured, and its config section under the given options', async () => {
    let given: DriverContext | undefined;
    const probe: Driver = {
      name: 'serial',
      async start(context) {
        given = context;
      },
      async stop() {},
    };
    const config = testConfig({
      serial: { commandTimeoutMs: 100, keep: 'section' },
      devices: [
        { id: 'rover', driver: 'serial', path: '/dev/a' },
        { id: 'kitchen', driver: 'mqtt', topic: 'k', profile: 'room-sensor' },
      ],
    });
    await start([driverPlugin(probe, { devices: [{ id: 'rover', driver: 'serial', path: '/dev/demo' }, { id: 'arm', driver: 'serial', path: '/dev/b' }], options: { commandTimeoutMs: 5 } })], { config });
    expect(given?.devices).toEqual([
      { id: 'rover', driver: 'serial', path: '/dev/a' },
      { id: 'arm', driver: 'serial', path: '/dev/b' },
    ]);
    expect(given?.options).toEqual({ commandTimeoutMs: 5, keep: 'section' });
  });

  it('a prepared driver cleans up what it prepared when its config is wrong, and after it stops', async () => {
    const events: string[] = [];
    const misconfigured: Driver = {
      name: 'ble',
      async start() {
        throw errors.config('ble.scan: not a mapping');
      },
      async stop() {},
    };
    const plugin = preparedDriverPlugin('ble', async () => ({ driver: misconfigured, cleanup: () => void events.push('cleanup') }));
    await expect(start([plugin])).rejects.toThrow('ble.scan: not a mapping');
    expect(events).toEqual(['cleanup']);

    const lamp = new SimulatedLamp();
    const gateway = await start([preparedDriverPlugin('memory', async () => ({ driver: memoryDriver(lamp), cleanup: () => void events.push('cleanup 2') }))]);
    expect(gateway.registry.drivers()).toEqual(['memory']);
    await gateway.close();
    expect(events).toEqual(['cleanup', 'cleanup 2']);
  });

  it('a driver whose start fails otherwise is isolated: the gateway starts, the driver is listed as failed, its companions stop on close', async () => {
    const events: string[] = [];
    const failing: Driver = {
      name: 'ble',
      async start() {
        throw new Error('no radio');
      },
      async stop() {
        events.push('stop');
      },
    };
    // Not started again (restart: false), so what it did is all there is to see.
    const plugin = preparedDriverPlugin('ble', async () => ({ driver: failing, restart: false, cleanup: () => void events.push('cleanup') }));
    const gateway = await start([plugin, driverPlugin(memoryDriver(new SimulatedLamp()))]);
    const peer = await client(gateway);
    expect((await peer.get(['drivers'])).body).toEqual([
      expect.objectContaining({ name: 'ble', origin: 'built-in', state: 'failed', failures: 1, lastFailure: expect.objectContaining({ message: 'no radio', during: 'start' }) }),
      expect.objectContaining({ name: 'memory', origin: 'built-in', state: 'running', devices: 1 }),
    ]);
    expect((await peer.get(['devices', 'lamp'])).body).toMatchObject({ online: true });
    await gateway.close();
    // The failed driver was stopped once, when it failed, and not again on close.
    expect(events).toEqual(['stop', 'cleanup']);
  });
});

describe('docs/plugins.md', () => {
  it('the uptime example serves GET ["uptime"] and /uptime', async () => {
    const uptime: GatewayPlugin = {
      name: 'uptime',
      async start({ engine, http, logger }) {
        const unbind = engine.bind({ method: 'GET', resource: ['uptime'] }, () => process.uptime());
        const unroute = http.route('/uptime', (_request, response) => void response.end(`${process.uptime()}\n`));
        logger.info('serving GET ["uptime"] and /uptime');
        return () => {
          unroute();
          unbind();
        };
      },
    };
    const gateway = await start([uptime]);
    const peer = await client(gateway);
    expect(typeof (await peer.get(['uptime'])).body).toBe('number');
    const response = await fetch(`http://127.0.0.1:${gateway.ports.http}/uptime`);
    expect(Number(await response.text())).toBeGreaterThan(0);
  });
});

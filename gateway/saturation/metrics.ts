/**
 * `GET /metrics` in the Prometheus text format (prom-client), so an existing
 * autoscaler (Kubernetes HPA through an adapter, KEDA) can act on an instance:
 * node_exporter's names for the machine (read from /proc at scrape time, as
 * node_exporter does), prom-client's names for the process, and the gateway's own
 * counters and saturation under `pasarela_`.
 */
import type { StatsFs } from 'node:fs';
import { readFile, realpath, statfs } from 'node:fs/promises';
import os from 'node:os';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Engine } from '../jstp/engine.js';
import type { HttpHandler } from '../plugin.js';
import type { TcpTransport } from '../transports/tcp.js';
import type { WsTransport } from '../transports/ws.js';
import { mountOf, parseCpuModes, parseMounts, parseNetDev, parsePressure, type Mount } from './proc-parse.js';
import { levelRank, RESOURCES, type SaturationReport } from './report.js';
import type { RequestMeter } from './request-meter.js';

export interface MetricsSources {
  engine: Engine;
  registry: DeviceRegistry;
  transports: { tcp: TcpTransport; ws: WsTransport };
  meter: RequestMeter;
  /** The latest report, if one was made. */
  latest(): SaturationReport | undefined;
  /** Resolves with the first report: a scrape before it waits, rather than read zeros. */
  first: Promise<unknown>;
  /** The watched paths (the data folder first). */
  paths: readonly string[];
}

/** Linux's USER_HZ: /proc/stat counts in hundredths of a second. */
const USER_HZ = 100;

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A counter that mirrors a total kept elsewhere. */
function mirrorCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      if (value === undefined) this.reset();
      else this.set(value);
    },
  });
}

export function createMetrics(sources: MetricsSources): { registry: Registry; handler: HttpHandler } {
  const registry = new Registry();
  const { engine, transports, meter } = sources;
  const transportStats = () => [transports.tcp.stats(), transports.ws.stats()];
  const sum = (pick: (stats: ReturnType<typeof transports.tcp.stats>) => number) => transportStats().reduce((total, stats) => total + pick(stats), 0);

  // ---- the machine: node_exporter's names ----
  new Counter({
    name: 'node_cpu_seconds_total',
    help: 'Seconds the CPUs spent in each mode.',
    labelNames: ['cpu', 'mode'],
    registers: [registry],
    async collect() {
      this.reset();
      const stat = await text('/proc/stat');
      if (stat === undefined) return;
      for (const row of parseCpuModes(stat)) this.inc({ cpu: row.cpu, mode: row.mode }, row.jiffies / USER_HZ);
    },
  });
  gauge(registry, 'node_memory_MemAvailable_bytes', 'Memory information field MemAvailable_bytes.', () => os.freemem());
  gauge(registry, 'node_memory_MemTotal_bytes', 'Memory information field MemTotal_bytes.', () => os.totalmem());
  for (const [index, minutes] of [1, 5, 15].entries()) {
    gauge(registry, `node_load${minutes}`, `${minutes}m load average.`, () => os.loadavg()[index]);
  }
  const filesystem = (name: string, help: string, pick: (stats: StatsFs) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['device', 'fstype', 'mountpoint'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const { mount, stats } of await filesystems(sources.paths)) this.set({ device: mount.device, fstype: mount.fstype, mountpoint: mount.mountpoint }, pick(stats));
      },
    });
  filesystem('node_filesystem_avail_bytes', 'Filesystem space available to non-root users in bytes.', (stats) => stats.bavail * stats.bsize);
  filesystem('node_filesystem_free_bytes', 'Filesystem free space in bytes.', (stats) => stats.bfree * stats.bsize);
  filesystem('node_filesystem_size_bytes', 'Filesystem size in bytes.', (stats) => stats.blocks * stats.bsize);
  for (const [direction, pick] of [['receive', 'rx'], ['transmit', 'tx']] as const) {
    new Counter({
      name: `node_network_${direction}_bytes_total`,
      help: `Network device statistic ${direction}_bytes.`,
      labelNames: ['device'],
      registers: [registry],
      async collect() {
        this.reset();
        const dev = await text('/proc/net/dev');
        if (dev === undefined) return;
        for (const [device, bytes] of parseNetDev(dev)) this.inc({ device }, bytes[pick]);
      },
    });
  }
  const pressure = (resource: 'cpu' | 'memory' | 'io', kind: 'waiting' | 'stalled', help: string) =>
    new Counter({
      name: `node_pressure_${resource}_${kind}_seconds_total`,
      help,
      registers: [registry],
      async collect() {
        this.reset();
        const file = await text(`/proc/pressure/${resource}`);
        const parsed = file === undefined ? undefined : parsePressure(file);
        const micros = kind === 'waiting' ? parsed?.someTotalUs : parsed?.fullTotalUs;
        if (micros !== undefined) this.inc(micros / 1e6);
      },
    });
  pressure('cpu', 'waiting', 'Total time in seconds that processes have waited for CPU time.');
  pressure('memory', 'waiting', 'Total time in seconds that processes have waited for memory.');
  pressure('memory', 'stalled', 'Total time in seconds no process could make progress due to memory congestion.');
  pressure('io', 'waiting', 'Total time in seconds that processes have waited due to IO congestion.');
  pressure('io', 'stalled', 'Total time in seconds no process could make progress due to IO congestion.');

  // ---- the process: prom-client's default names ----
  mirrorCounter(registry, 'process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', () => process.cpuUsage().user / 1e6);
  mirrorCounter(registry, 'process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', () => process.cpuUsage().system / 1e6);
  mirrorCounter(registry, 'process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  });
  gauge(registry, 'process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss());
  const startTime = Math.round(Date.now() / 1000 - process.uptime());
  gauge(registry, 'process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => startTime);
  gauge(registry, 'nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', () => {
    const report = sources.latest();
    return report ? report.cpu.eventLoop.delayP99Ms / 1000 : undefined;
  });

  // ---- the gateway ----
  mirrorCounter(registry, 'pasarela_dispatches_received_total', 'Dispatches received from peers over TCP and WebSocket.', () => sum((stats) => stats.received));
  mirrorCounter(registry, 'pasarela_dispatches_sent_total', 'Dispatches sent to peers over TCP and WebSocket.', () => sum((stats) => stats.sent));
  new Gauge({
    name: 'pasarela_connections',
    help: 'Peers connected now.',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      this.set({ transport: 'tcp' }, transports.tcp.stats().connections);
      this.set({ transport: 'ws' }, transports.ws.stats().connections);
    },
  });
  gauge(registry, 'pasarela_subscriptions', 'Subscriptions in the engine (local and remote).', () => engine.stats().subscriptions);
  gauge(registry, 'pasarela_devices', 'Devices known to the gateway.', () => sources.registry.list().length);
  gauge(registry, 'pasarela_devices_online', 'Devices online now.', () => sources.registry.list().filter((device) => device.online).length);
  new Counter({
    name: 'pasarela_dispatches_dropped_total',
    help: 'Dispatches dropped: undecodable input, invalid dispatches, and those a pipeline stage stopped.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const stats = engine.stats();
      this.inc({ reason: 'undecodable' }, sum((transport) => transport.invalid));
      this.inc({ reason: 'invalid' }, stats.invalid);
      this.inc({ reason: 'stage' }, stats.stopped);
    },
  });
  new Counter({
    name: 'pasarela_connections_closed_total',
    help: 'Connections the gateway closed because of a fault of the peer.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: 'overflow' }, sum((stats) => stats.overflows));
      this.inc({ reason: 'oversize' }, sum((stats) => stats.oversize));
    },
  });
  mirrorCounter(registry, 'pasarela_requests_total', 'Requests received from peers.', () => meter.requests);
  mirrorCounter(registry, 'pasarela_request_errors_total', 'Answers of status 500 and above sent to peers.', () => meter.errors);
  new Gauge({
    name: 'pasarela_saturation_utilization',
    help: 'Utilization of each counted resource, 0 to 1 (resource="overall": the largest).',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      this.reset();
      const report = sources.latest();
      if (!report) return;
      this.set({ resource: 'overall' }, report.utilization);
      for (const resource of RESOURCES) {
        const value = report.parts[resource];
        if (typeof value === 'number') this.set({ resource }, value);
      }
    },
  });
  gauge(registry, 'pasarela_saturation_level', 'Saturation level: 0 ok, 1 warn, 2 critical.', () => {
    const report = sources.latest();
    return report ? levelRank(report.level) : undefined;
  });

  const handler: HttpHandler = async (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    await sources.first;
    const body = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  };
  return { registry, handler };
}

/** The filesystems of the watched paths, each once, with the labels node_exporter gives them. */
async function filesystems(paths: readonly string[]): Promise<{ mount: Mount; stats: StatsFs }[]> {
  const mountsText = await text('/proc/self/mounts');
  const mounts = mountsText === undefined ? [] : parseMounts(mountsText);
  const seen = new Set<string>();
  const found: { mount: Mount; stats: StatsFs }[] = [];
  for (const path of paths) {
    try {
      const real = await realpath(path);
      const mount = mountOf(real, mounts) ?? { device: 'unknown', fstype: 'unknown', mountpoint: real };
      if (seen.has(mount.mountpoint)) continue;
      seen.add(mount.mountpoint);
      found.push({ mount, stats: await statfs(real) });
    } catch {
      // A path that is gone has no filesystem to report; the saturation report says why.
    }
  }
  return found;
}

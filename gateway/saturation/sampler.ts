/**
 * Measures the machine and the process from Node's built-ins and /proc: CPU (the
 * CPUs this process may run on, the process itself, PSI), the event loop (delay p99
 * and utilization), memory, the filesystems of the watched paths and the network.
 * Each `sample()` covers the time since the previous one. What cannot be measured
 * here (no /proc/pressure, no /proc/net/dev, a path that is gone) comes back as
 * unavailable, never as a guess.
 */
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { parseAllowedCpus, parseNetDev, parsePressure, parseProcStat, type CpuTimes, type InterfaceBytes } from './proc-parse.js';
import { UNAVAILABLE, type CpuFigures, type DiskFigures, type Measured, type MemoryFigures, type NetworkFigures } from './report.js';

/** The figures of one sample, before the plugin adds requests, parts and the level. */
export interface Figures {
  at: number;
  cpu: CpuFigures;
  memory: MemoryFigures;
  disk: { psi: Measured<number>; paths: DiskFigures[] };
  network: Measured<NetworkFigures[]>;
}

export interface SamplerOptions {
  /** Paths whose filesystems are watched (the data folder first). */
  paths: readonly string[];
  /** Interfaces to report; by default the non-loopback ones that carried traffic, busiest first. */
  interfaces?: readonly string[];
  /** At most this many interfaces in a report (default 4), to keep it small. */
  maxInterfaces?: number;
}

/** How often the event-loop delay histogram ticks: finer costs more wake-ups. */
const DELAY_RESOLUTION_MS = 20;
const PROC_STAT = '/proc/stat';
const PROC_NET_DEV = '/proc/net/dev';

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Rounds to 4 significant places: a report stays small and readable. */
export function round(value: number): number {
  if (!Number.isFinite(value) || value === 0) return 0;
  return Number(value.toPrecision(4));
}

function fraction(value: number): number {
  return round(Math.min(1, Math.max(0, value)));
}

export class Sampler {
  private readonly paths: readonly string[];
  private readonly interfaces: readonly string[] | undefined;
  private readonly maxInterfaces: number;
  private readonly delay: IntervalHistogram;
  private readonly speeds = new Map<string, Measured<number>>();
  private lastAt = 0;
  private lastCpu: Map<number, CpuTimes> | undefined;
  private lastOsCpus: os.CpuInfo[] | undefined;
  private lastUsage: NodeJS.CpuUsage = process.cpuUsage();
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private lastNet: Map<string, InterfaceBytes> | undefined;
  private started = false;

  constructor(options: SamplerOptions) {
    this.paths = options.paths;
    this.interfaces = options.interfaces && options.interfaces.length > 0 ? options.interfaces : undefined;
    this.maxInterfaces = options.maxInterfaces ?? 4;
    this.delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  }

  /** Takes the baseline the first sample is measured against. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.delay.enable();
    this.lastAt = performance.now();
    this.lastUsage = process.cpuUsage();
    this.lastElu = performance.eventLoopUtilization();
    const stat = await readText(PROC_STAT);
    this.lastCpu = stat === undefined ? undefined : parseProcStat(stat);
    this.lastOsCpus = stat === undefined ? os.cpus() : undefined;
    const net = await readText(PROC_NET_DEV);
    this.lastNet = net === undefined ? undefined : parseNetDev(net);
  }

  stop(): void {
    this.delay.disable();
    this.started = false;
  }

  /** Everything since the previous sample (or since `start`). */
  async sample(): Promise<Figures> {
    if (!this.started) await this.start();
    const [stat, status, net, cpuPressure, memoryPressure, ioPressure, disks] = await Promise.all([
      readText(PROC_STAT),
      readText('/proc/self/status'),
      readText(PROC_NET_DEV),
      readText('/proc/pressure/cpu'),
      readText('/proc/pressure/memory'),
      readText('/proc/pressure/io'),
      Promise.all(this.paths.map((path) => this.disk(path))),
    ]);
    const now = performance.now();
    const elapsedMs = Math.max(1, now - this.lastAt);
    this.lastAt = now;

    const allowed = (status === undefined ? undefined : parseAllowedCpus(status)) ?? undefined;
    const { machine, cores } = this.machineCpu(stat, allowed);
    const usage = process.cpuUsage(this.lastUsage);
    this.lastUsage = process.cpuUsage();
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    const delayP99Ms = this.delay.count === 0 ? 0 : Math.max(0, this.delay.percentile(99) / 1e6 - DELAY_RESOLUTION_MS);
    this.delay.reset();

    return {
      at: Date.now(),
      cpu: {
        machine,
        process: fraction((usage.user + usage.system) / 1000 / elapsedMs / cores),
        cores,
        psi: psiOf(cpuPressure),
        eventLoop: { delayP99Ms: round(delayP99Ms), utilization: fraction(elu.utilization) },
      },
      memory: memory(psiOf(memoryPressure)),
      disk: { psi: psiOf(ioPressure), paths: disks },
      network: await this.network(net, elapsedMs),
    };
  }

  private machineCpu(stat: string | undefined, allowed: number[] | undefined): { machine: Measured<number>; cores: number } {
    if (stat !== undefined) {
      const current = parseProcStat(stat);
      const previous = this.lastCpu;
      this.lastCpu = current;
      const cpus = allowed?.filter((cpu) => current.has(cpu)) ?? [...current.keys()];
      let busy = 0;
      let total = 0;
      for (const cpu of cpus) {
        const now = current.get(cpu)!;
        const before = previous?.get(cpu) ?? { busy: 0, total: 0 };
        busy += now.busy - before.busy;
        total += now.total - before.total;
      }
      // No tick went by (two samples within one jiffy): nothing measured.
      return { machine: total > 0 ? fraction(busy / total) : UNAVAILABLE, cores: Math.max(1, cpus.length) };
    }
    // Not Linux: os.cpus() has every CPU's times (affinity is not known there).
    const current = os.cpus();
    const previous = this.lastOsCpus;
    this.lastOsCpus = current;
    let busy = 0;
    let total = 0;
    current.forEach((cpu, index) => {
      const before = previous?.[index]?.times ?? { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 };
      const working = cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq - (before.user + before.nice + before.sys + before.irq);
      busy += working;
      total += working + cpu.times.idle - before.idle;
    });
    return { machine: total > 0 ? fraction(busy / total) : UNAVAILABLE, cores: Math.max(1, current.length) };
  }

  private async disk(path: string): Promise<DiskFigures> {
    try {
      const stats = await statfs(path);
      return { path, freeBytes: stats.bavail * stats.bsize, usedBytes: (stats.blocks - stats.bfree) * stats.bsize, totalBytes: stats.blocks * stats.bsize };
    } catch (error) {
      return { path, unavailable: (error as NodeJS.ErrnoException).code ?? String(error) };
    }
  }

  private async network(text: string | undefined, elapsedMs: number): Promise<Measured<NetworkFigures[]>> {
    if (text === undefined) return UNAVAILABLE;
    const current = parseNetDev(text);
    const previous = this.lastNet;
    this.lastNet = current;
    const names = this.interfaces ?? busiest(current, this.maxInterfaces);
    const figures: NetworkFigures[] = [];
    for (const name of names.slice(0, this.maxInterfaces)) {
      const now = current.get(name);
      if (!now) {
        figures.push({ interface: name, unavailable: 'no such interface' });
        continue;
      }
      const before = previous?.get(name) ?? now;
      // Counters restart when an interface comes back: a negative delta is no traffic, not a huge one.
      const rxBytesPerS = Math.max(0, now.rx - before.rx) / (elapsedMs / 1000);
      const txBytesPerS = Math.max(0, now.tx - before.tx) / (elapsedMs / 1000);
      const speed = await this.speed(name);
      figures.push({
        interface: name,
        rxBytesPerS: round(rxBytesPerS),
        txBytesPerS: round(txBytesPerS),
        utilization: speed === UNAVAILABLE ? UNAVAILABLE : fraction(Math.max(rxBytesPerS, txBytesPerS) / speed),
      });
    }
    return figures;
  }

  /** The link speed in bytes/s; virtual links (loopback, veth, bridges) have none. */
  private async speed(name: string): Promise<Measured<number>> {
    const known = this.speeds.get(name);
    if (known !== undefined) return known;
    const text = await readText(`/sys/class/net/${name}/speed`);
    const megabits = text === undefined ? NaN : Number(text.trim());
    const speed: Measured<number> = Number.isFinite(megabits) && megabits > 0 ? (megabits * 1e6) / 8 : UNAVAILABLE;
    this.speeds.set(name, speed);
    return speed;
  }
}

function busiest(interfaces: Map<string, InterfaceBytes>, limit: number): string[] {
  return [...interfaces.entries()]
    .filter(([name, bytes]) => name !== 'lo' && bytes.rx + bytes.tx > 0)
    .sort((a, b) => b[1].rx + b[1].tx - (a[1].rx + a[1].tx))
    .slice(0, limit)
    .map(([name]) => name);
}

function psiOf(text: string | undefined): Measured<number> {
  const pressure = text === undefined ? undefined : parsePressure(text);
  return pressure ? fraction(pressure.someAvg10 / 100) : UNAVAILABLE;
}

function memory(psi: Measured<number>): MemoryFigures {
  let total = os.totalmem();
  // A cgroup limit below the machine's memory is the memory this process really has.
  const constrained = process.constrainedMemory?.() ?? 0;
  if (constrained > 0 && constrained < total) total = constrained;
  const available = Math.min(total, process.availableMemory?.() ?? os.freemem());
  return { availableBytes: available, totalBytes: total, rssBytes: process.memoryUsage.rss(), psi };
}

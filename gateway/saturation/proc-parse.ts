/**
 * Parsers for the Linux files the sampler reads: /proc/stat, /proc/net/dev,
 * /proc/pressure/*, a CPU list (`0-3,6`) and /proc/self/mounts. Pure: text in,
 * values out, so each is tested on fixed text as well as on the real files.
 */

/** Jiffies of one CPU: busy and total (idle and iowait count as not busy, as node_exporter's users compute it). */
export interface CpuTimes {
  busy: number;
  total: number;
}

/** Each per-CPU line of /proc/stat (`cpu0 ...`): the CPU's number and its fields (jiffies). */
function* cpuLines(text: string): Generator<[cpu: string, fields: number[]]> {
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (match) yield [match[1]!, match[2]!.trim().split(/\s+/).map(Number)];
  }
}

/** The per-CPU lines of /proc/stat, keyed by CPU number. */
export function parseProcStat(text: string): Map<number, CpuTimes> {
  const cpus = new Map<number, CpuTimes>();
  for (const [cpu, fields] of cpuLines(text)) {
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    cpus.set(Number(cpu), { busy, total: busy + idle + iowait });
  }
  return cpus;
}

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** Every mode of every CPU, in jiffies, for node_cpu_seconds_total. */
export function parseCpuModes(text: string): { cpu: string; mode: string; jiffies: number }[] {
  const rows: { cpu: string; mode: string; jiffies: number }[] = [];
  for (const [cpu, fields] of cpuLines(text)) CPU_MODES.forEach((mode, index) => rows.push({ cpu, mode, jiffies: fields[index] ?? 0 }));
  return rows;
}

export interface InterfaceBytes {
  rx: number;
  tx: number;
}

/** Received and sent bytes per interface from /proc/net/dev. */
export function parseNetDev(text: string): Map<string, InterfaceBytes> {
  const interfaces = new Map<string, InterfaceBytes>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    // The two header lines have `|` and no `name:` prefix.
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (name === '' || fields.length < 9) continue;
    interfaces.set(name, { rx: fields[0]!, tx: fields[8]! });
  }
  return interfaces;
}

export interface Pressure {
  /** `some avg10`, a percentage. */
  someAvg10: number;
  /** `some total`, µs. */
  someTotalUs: number;
  /** `full total`, µs; absent for cpu on older kernels. */
  fullTotalUs: number | undefined;
}

/** A /proc/pressure/{cpu,memory,io} file; undefined when it is not one. */
export function parsePressure(text: string): Pressure | undefined {
  const some = /^some avg10=([\d.]+) avg60=[\d.]+ avg300=[\d.]+ total=(\d+)/m.exec(text);
  if (!some) return undefined;
  const full = /^full avg10=[\d.]+ avg60=[\d.]+ avg300=[\d.]+ total=(\d+)/m.exec(text);
  return { someAvg10: Number(some[1]), someTotalUs: Number(some[2]), fullTotalUs: full ? Number(full[1]) : undefined };
}

/** A kernel CPU list (`0-3,8,10-11`); undefined when it does not parse. */
export function parseCpuList(text: string): number[] | undefined {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last - first > 4096) return undefined;
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** `Cpus_allowed_list` of /proc/self/status: the CPUs this process may run on. */
export function parseAllowedCpus(status: string): number[] | undefined {
  const match = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  return match ? parseCpuList(match[1]!) : undefined;
}

export interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
}

/** /proc/self/mounts (octal escapes such as `\040` for a space undone). */
export function parseMounts(text: string): Mount[] {
  const unescape = (value: string) => value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [device, mountpoint, fstype] = line.split(' ');
    if (device && mountpoint && fstype) mounts.push({ device: unescape(device), mountpoint: unescape(mountpoint), fstype });
  }
  return mounts;
}

/** The mount a path lives on: the longest mountpoint that contains it (the last one mounted wins a tie). */
export function mountOf(path: string, mounts: readonly Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const mount of mounts) {
    const point = mount.mountpoint;
    const inside = point === '/' || path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (inside && (!best || point.length >= best.mountpoint.length)) best = mount;
  }
  return best;
}

/**
 * The /proc parsers on fixed text (the kernel's formats, edge cases included) and on
 * this machine's real files where it has them.
 */
import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  mountOf,
  parseAllowedCpus,
  parseCpuList,
  parseCpuModes,
  parseMounts,
  parseNetDev,
  parsePressure,
  parseProcStat,
} from '../../gateway/saturation/proc-parse.js';

const STAT = `cpu  243491 608 43148 694231 870 0 1564 326 0 0
cpu0 117963 290 20966 351930 113 0 658 163 0 0
cpu1 125527 317 22182 342300 757 0 905 163 0 0
intr 12345 0 0
ctxt 999
`;

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 15296421519 5039259    0    0    0     0          0         0 15296421519 5039259    0    0    0     0       0          0
  eth0: 1544105399   56831    0    0    0     0          0         0  8116751   51135    0    0    0     0       0          0
wlan0:12 1 0 0 0 0 0 0 34 1 0 0 0 0 0 0
`;

describe('/proc parsers', () => {
  it('reads busy and total jiffies per CPU, idle and iowait counted as not busy', () => {
    const cpus = parseProcStat(STAT);
    expect([...cpus.keys()]).toEqual([0, 1]);
    expect(cpus.get(0)).toEqual({ busy: 117963 + 290 + 20966 + 0 + 658 + 163, total: 117963 + 290 + 20966 + 0 + 658 + 163 + 351930 + 113 });
    expect(parseCpuModes(STAT).filter((row) => row.cpu === '1').map((row) => [row.mode, row.jiffies])).toEqual([
      ['user', 125527], ['nice', 317], ['system', 22182], ['idle', 342300], ['iowait', 757], ['irq', 0], ['softirq', 905], ['steal', 163],
    ]);
  });

  it('reads bytes per interface from /proc/net/dev, even with no space after the colon', () => {
    const interfaces = parseNetDev(NET_DEV);
    expect(interfaces.get('eth0')).toEqual({ rx: 1544105399, tx: 8116751 });
    expect(interfaces.get('wlan0')).toEqual({ rx: 12, tx: 34 });
    expect(interfaces.has('face')).toBe(false);
  });

  it('reads PSI files, with and without a full line', () => {
    expect(parsePressure('some avg10=1.59 avg60=8.07 avg300=22.55 total=751786966\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=12\n')).toEqual({
      someAvg10: 1.59,
      someTotalUs: 751786966,
      fullTotalUs: 12,
    });
    expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n')?.fullTotalUs).toBeUndefined();
    expect(parsePressure('nonsense')).toBeUndefined();
  });

  it('reads CPU lists and the allowed CPUs of a process', () => {
    expect(parseCpuList('0-3,6,8-9')).toEqual([0, 1, 2, 3, 6, 8, 9]);
    expect(parseCpuList('5')).toEqual([5]);
    expect(parseCpuList('3-1')).toBeUndefined();
    expect(parseCpuList('a')).toBeUndefined();
    expect(parseAllowedCpus('Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n')).toEqual([0, 1]);
  });

  it('finds the mount a path lives on: the longest mountpoint that holds it', () => {
    const mounts = parseMounts('/dev/vda / ext4 rw 0 0\ntmpfs /tmp/a\\040b tmpfs rw 0 0\ntmpfs /tmp/ab tmpfs rw 0 0\n');
    expect(mounts[1]!.mountpoint).toBe('/tmp/a b');
    expect(mountOf('/tmp/a b/x', mounts)?.mountpoint).toBe('/tmp/a b');
    expect(mountOf('/tmp/abc', mounts)?.mountpoint).toBe('/');
    expect(mountOf('/tmp/ab', mounts)?.mountpoint).toBe('/tmp/ab');
  });

  it('parses this machine\'s real files (Linux)', () => {
    expect(parseProcStat(readFileSync('/proc/stat', 'utf8')).size).toBeGreaterThan(0);
    expect(parseNetDev(readFileSync('/proc/net/dev', 'utf8')).has('lo')).toBe(true);
    expect(parseAllowedCpus(readFileSync('/proc/self/status', 'utf8'))!.length).toBeGreaterThan(0);
    expect(mountOf('/proc/self', parseMounts(readFileSync('/proc/self/mounts', 'utf8')))?.fstype).toBe('proc');
    if (existsSync('/proc/pressure/cpu')) expect(parsePressure(readFileSync('/proc/pressure/cpu', 'utf8'))).toBeDefined();
  });
});

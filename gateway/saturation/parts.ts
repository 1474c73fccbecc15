/**
 * Each resource's utilization (0 to 1) from one sample's figures: the parts whose
 * largest is the report's overall utilization.
 */
import { UNAVAILABLE, type Measured, type Resource, type SaturationReport } from './report.js';
import { round, type Figures } from './sampler.js';

function largest(values: readonly Measured<number>[]): Measured<number> {
  const measured = values.filter((value): value is number => typeof value === 'number');
  return measured.length === 0 ? UNAVAILABLE : Math.max(...measured);
}

export function partsOf(figures: Figures, counted: ReadonlySet<Resource>): SaturationReport['parts'] {
  const all: Record<Resource, Measured<number>> = {
    cpu: figures.cpu.machine,
    eventLoop: figures.cpu.eventLoop.utilization,
    memory: figures.memory.totalBytes > 0 ? round(1 - figures.memory.availableBytes / figures.memory.totalBytes) : UNAVAILABLE,
    // df's Use%: the blocks reserved for root are neither used nor free to a service.
    disk: largest(figures.disk.paths.map((disk) => ('usedBytes' in disk && disk.usedBytes + disk.freeBytes > 0 ? round(disk.usedBytes / (disk.usedBytes + disk.freeBytes)) : UNAVAILABLE))),
    network: figures.network === UNAVAILABLE ? UNAVAILABLE : largest(figures.network.map((link) => ('utilization' in link ? link.utilization : UNAVAILABLE))),
  };
  const parts: SaturationReport['parts'] = {};
  for (const resource of counted) parts[resource] = all[resource];
  return parts;
}

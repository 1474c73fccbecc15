/**
 * A driver for fleet tests and benches: each of its config entries becomes an online
 * device (under the entry's id) whose one integer property counts up every `everyMs`
 * while the driver runs, as a sensor that two gateways can reach would report.
 */
import type { Driver } from '../../drivers/driver.js';

export interface TickingDriverOptions {
  name: string;
  property: string;
  everyMs: number;
  title?: string;
}

export function tickingDriver(options: TickingDriverOptions): Driver {
  const timers: Array<ReturnType<typeof setInterval>> = [];
  return {
    name: options.name,
    async start(context) {
      for (const entry of context.devices) {
        const info = { key: entry.id, id: entry.id, properties: { [options.property]: { type: 'integer' as const } }, ...(options.title ? { title: options.title } : {}) };
        const device = context.addDevice(info, {});
        device.setOnline(true);
        let count = 0;
        timers.push(setInterval(() => device.reportProperty(options.property, ++count), options.everyMs));
      }
    },
    async stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}

/** The smallest driver of docs/writing-a-driver.md, exactly as printed there, works. */
import { expect, it } from 'vitest';
import type { Driver } from '../../drivers/driver.js';
import { ContractGateway } from '../../testing/index.js';
const clock: Driver = {
  name: 'clock',
  async start(context) {
    const device = context.addDevice(
      { key: 'clock', title: 'Clock', properties: { now: { type: 'integer', unit: 'ms' } } },
      { readProperty: async () => Date.now() },
    );
    device.setOnline(true);
  },
  async stop() {},
};
it('serves a device from a dozen lines', async () => {
  const g = new ContractGateway(1000);
  await clock.start(g.registry.context('clock'));
  expect((await g.call('GET', ['devices'])).body).toEqual([{ id: 'clock-clock', driver: 'clock', online: true, title: 'Clock' }]);
  const r = await g.call('GET', ['devices', 'clock-clock', 'properties', 'now']);
  expect(r.status).toBe(200); expect(typeof r.body).toBe('number');
  g.close();
});

/**
 * The fault scope costs every promise of the process once it is in use (Node 20's
 * async hooks), so a gateway running only Pasarela's own drivers never uses it; the
 * first driver from outside does. (One file, one process: the order below is the
 * process's history.)
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { scopeInUse } from '../../gateway/driver-host/fault-scope.js';
import { startGateway } from '../../gateway/gateway.js';
import { driverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { memoryDriver, SimulatedLamp } from '../devices/memory-driver.js';

const config = parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http: 0 } }, 'test');

describe('the fault scope', () => {
  it('is not used by a gateway of built-in drivers, and is by one loaded from outside', async () => {
    const lamp = new SimulatedLamp();
    const builtIn = await startGateway(config, { plugins: [driverPlugin(memoryDriver(lamp))] });
    expect((await builtIn.engine.get(['devices', 'lamp', 'properties', 'brightness'])).body).toBe(50);
    await builtIn.close();
    expect(scopeInUse()).toBe(false);

    const outside = await startGateway(config, { plugins: [driverPlugin(memoryDriver(lamp), { source: { origin: 'file', module: './memory.js' } })] });
    await outside.close();
    expect(scopeInUse()).toBe(true);
  });
});

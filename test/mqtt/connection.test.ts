/** The driver's link: fails fast while down, and reconnects with backoff to a broker that appears late. */
import { describe, expect, it } from 'vitest';
import { MqttConnection } from '../../drivers/mqtt/connection.js';
import { createMqttDriver } from '../../drivers/mqtt/driver.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import { silentLogger } from '../../gateway/jstp/logger.js';
import { ContractGateway } from '../../testing/index.js';
import { freePort, Mosquitto } from '../support/mosquitto.js';
import { RoomSensor } from '../../firmware-sim/sensors/room-sensor.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

describe('MqttConnection', () => {
  it('rejects a publish at once with 502 while no broker is reachable', async () => {
    const port = await freePort();
    const connection = new MqttConnection({ url: `mqtt://127.0.0.1:${port}`, logger: silentLogger(), reconnect: { initialMs: 10_000 } });
    cleanups.push(() => connection.stop());
    connection.start();
    await expect(connection.publish('a/b', 'x')).rejects.toMatchObject({ code: ErrorCode.DeviceOffline, status: 502 });
  });

  it('keeps retrying until the broker appears, then subscribes', async () => {
    const port = await freePort();
    const gateway = new ContractGateway(2_000);
    cleanups.push(() => gateway.close());
    const driver = createMqttDriver({ homie: false, connection: { reconnect: { initialMs: 20, maxMs: 100 } } });
    cleanups.push(() => driver.stop());
    const devices = [{ id: 'kitchen', driver: 'mqtt', profile: 'json-sensor', topic: 'home/kitchen' }];
    // Started with no broker: start resolves, the device waits offline.
    await driver.start(gateway.registry.context('mqtt', devices, { url: `mqtt://127.0.0.1:${port}` }));
    expect(gateway.registry.list()).toEqual([expect.objectContaining({ id: 'kitchen', online: false })]);
    const broker = await Mosquitto.start(port);
    cleanups.push(() => broker.close());
    const sensor = new RoomSensor({ url: broker.url, topic: 'home/kitchen', intervalMs: 50 });
    cleanups.push(() => sensor.stop());
    const reading = gateway.next({ method: 'PATCH', resource: ['devices', 'kitchen', 'properties', 'temperature'] });
    await sensor.start();
    expect(await reading).toEqual({ value: expect.any(Number), at: expect.any(Number) });
    expect(driver.stats().connected).toBe(true);
  });

  it('refuses a config entry without a known profile, naming the device and field', async () => {
    const gateway = new ContractGateway(2_000);
    cleanups.push(() => gateway.close());
    const driver = createMqttDriver();
    const context = (devices: Record<string, unknown>[]) =>
      gateway.registry.context('mqtt', devices.map((entry) => ({ id: 'x', driver: 'mqtt', ...entry })), { url: 'mqtt://127.0.0.1:1' });
    await expect(driver.start(context([{ topic: 'a', profile: 'toaster' }]))).rejects.toThrow(/device "x": profile: no MQTT profile "toaster"/);
    await expect(driver.start(context([{ topic: 'a/#', profile: 'json-sensor' }]))).rejects.toThrow(/device "x": topic/);
    await expect(driver.start(context([{ topic: 'a', profile: { convention: 'plain-json', properties: { t: { type: 'nope' } } } }]))).rejects.toThrow(
      /profile "x \(inline\)": properties\.t\.type/,
    );
    await expect(createMqttDriver().start(gateway.registry.context('mqtt', [], {}))).rejects.toThrow(/no broker URL/);
  });
});

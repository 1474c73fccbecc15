/**
 * JSTP over BLE: the simulated sensor tag (firmware-sim/sensor-tag) speaks JSTP over
 * its GATT characteristic in link frames cut to the MTU, and the BLE driver, reached
 * through noble's real objects, recognises the service, learns the description from
 * the tag, reassembles its notifications and writes its frames in ATT-sized pieces.
 * The driver contract runs against it, then what is particular to the link.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBleDriver } from '../../drivers/ble/index.js';
import type { DeviceConfig, Driver } from '../../drivers/driver.js';
import { createSimulatedSensorTag, TAG_DESCRIPTION, type SimulatedSensorTag, type SimulatedSensorTagOptions } from '../../firmware-sim/sensor-tag/index.js';
import { ContractGateway, describeDriverContract } from '../../testing/index.js';
import { until } from '../support/until.js';
import { captureLogger, FAST } from './helpers.js';

const TAG: DeviceConfig = { id: 'tag', driver: 'ble', name: 'JSTP Tag' };

describeDriverContract('ble JSTP sensor tag (simulated radio)', async () => {
  const tag = createSimulatedSensorTag({ intervalMs: 50 });
  return {
    driver: createBleDriver({ bindings: tag.radio, operationTimeoutMs: 5_000, connectTimeoutMs: 2_000, reconnect: { initialMs: 20, maxMs: 200 } }),
    devices: [TAG],
    subject: {
      id: 'tag',
      reported: 'temperature',
      readOnly: 'battery',
      action: { name: 'blink', input: { times: 2 }, invalidInput: { times: 99 } },
    },
    setDeviceOnline: async (online) => tag.radio.setReachable(tag.address, online),
    setDeviceUnresponsive: async (unresponsive) => tag.radio.setUnresponsive(tag.address, unresponsive),
    close: async () => tag.stop(),
  };
});

let running: { tag: SimulatedSensorTag; driver: Driver; gateway: ContractGateway } | undefined;

afterEach(async () => {
  if (!running) return;
  await running.driver.stop();
  running.gateway.registry.removeDriver('ble');
  running.gateway.close();
  running.tag.stop();
  running = undefined;
});

async function startTag(options: SimulatedSensorTagOptions = {}, devices: DeviceConfig[] = [TAG]) {
  const tag = createSimulatedSensorTag({ intervalMs: 40, ...options });
  const gateway = new ContractGateway(5_000, devices);
  const driver = createBleDriver({ bindings: tag.radio, ...FAST });
  const { logger, lines } = captureLogger();
  running = { tag, driver, gateway };
  await driver.start(gateway.registry.context('ble', devices, {}, logger));
  return { tag, gateway, lines };
}

describe('JSTP over BLE', () => {
  it('learns the description from the tag, reads, invokes blink, and gets its reports', async () => {
    const { tag, gateway } = await startTag();
    await gateway.waitFor('tag', true);
    const details = (await gateway.call('GET', ['devices', 'tag'])).body as Record<string, Record<string, unknown>>;
    expect(details).toMatchObject({ title: 'JSTP Tag', model: TAG_DESCRIPTION.model, online: true });
    expect(Object.keys(details.properties!)).toEqual(expect.arrayContaining(['temperature', 'battery', 'rssi', 'link']));
    expect(Object.keys(details.actions!)).toEqual(['blink']);

    tag.setTemperature(24.25);
    const report = await gateway.next({ method: 'PATCH', resource: ['devices', 'tag', 'properties', 'temperature'] }, (body) => Math.abs((body as { value: number }).value - 24.25) < 0.2);
    expect(report).toMatchObject({ value: expect.any(Number) });
    const read = await gateway.call('GET', ['devices', 'tag', 'properties', 'battery']);
    expect(read).toEqual({ status: 200, body: 97 });

    expect(await gateway.call('POST', ['devices', 'tag', 'actions', 'blink'], { times: 4 })).toEqual({ status: 200, body: { blinked: 4 } });
    expect(tag.blinks).toBe(4);
    // The gateway checked the input against the tag's own schema: the tag never saw this one.
    expect((await gateway.call('POST', ['devices', 'tag', 'actions', 'blink'], { times: 0 })).status).toBe(400);
    expect(tag.blinks).toBe(4);
  });

  it('writes frames in pieces of MTU - 3 bytes and reads notifications cut the same way, at 23 and at 185', async () => {
    for (const mtu of [23, 185]) {
      const { tag, gateway } = await startTag({ mtu });
      await gateway.waitFor('tag', true);
      expect((await gateway.call('POST', ['devices', 'tag', 'actions', 'blink'], { times: 1 })).status).toBe(200);
      const stats = tag.radio.stats(tag.address);
      // A command longer than MTU - 3 would be refused by the radio (an ATT error).
      expect(stats.attErrors).toBe(0);
      expect(tag.counters).toMatchObject({ droppedCrc: 0, droppedCobs: 0, lost: 0 });
      expect(tag.counters!.frames).toBeGreaterThanOrEqual(3); // GET description, GET properties, POST blink
      const link = (await gateway.call('GET', ['devices', 'tag', 'properties', 'link'])).body as Record<string, number>;
      expect(link).toMatchObject({ framesDropped: 0, framesLost: 0, writesFailed: 0, unknownAliases: 0 });
      expect(link.frames).toBeGreaterThanOrEqual(4);
      // The description is far longer than one notification: it was reassembled from many.
      if (mtu === 23) expect(stats.notifications).toBeGreaterThan(20);
      await running!.driver.stop();
      running!.gateway.registry.removeDriver('ble');
      running!.gateway.close();
      tag.stop();
      running = undefined;
    }
  });

  it('counts the frames it loses when notifications go missing, and carries on', async () => {
    // Once it is online, every 7th notification never reaches the gateway (the tag's buffer overflowed).
    let losing = false;
    const { tag, gateway } = await startTag({ loseNotification: (n) => losing && n % 7 === 0 });
    await gateway.waitFor('tag', true);
    const changed = gateway.next({ method: 'PATCH', resource: ['devices', 'tag', 'properties', 'link'] });
    losing = true;
    const link = (await changed) as { value: { framesDropped: number; framesLost: number } };
    expect(link.value.framesDropped + link.value.framesLost).toBeGreaterThan(0);
    // Reports still arrive, and the link stays up.
    await gateway.next({ method: 'PATCH', resource: ['devices', 'tag', 'properties', 'temperature'] });
    expect(gateway.registry.list().find((device) => device.id === 'tag')?.online).toBe(true);
    expect(tag.radio.stats(tag.address).connects).toBe(1);
  });

  it('adds a tag nobody configured, because it advertises the JSTP service', async () => {
    const { gateway } = await startTag({}, []);
    await until(() => gateway.registry.list().some((device) => device.online && device.title === 'JSTP Tag'), 'the discovered tag online', 8_000);
    const [device] = gateway.registry.list();
    expect((await gateway.call('GET', ['devices', device!.id, 'properties', 'battery'])).body).toBe(97);
  });
});

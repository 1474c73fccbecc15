/**
 * noble's default export opens the host's HCI socket as it loads, and throws
 * (EAFNOSUPPORT) where there is no Bluetooth. The driver loads it only when a real
 * adapter is configured, says "no Bluetooth adapter" when it fails, and keeps going.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { createBleDriver, NO_ADAPTER } from '../../drivers/ble/index.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';
import { ContractGateway } from '../../testing/index.js';
import { COFFEE, captureLogger } from './helpers.js';

const require = createRequire(import.meta.url);
const nobleMain = require.resolve('@abandonware/noble');

let gateway: ContractGateway | undefined;
let stop: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stop?.();
  gateway?.close();
  gateway = undefined;
  stop = undefined;
});

async function start(options: Parameters<typeof createBleDriver>[0]) {
  gateway = new ContractGateway(2_000, [COFFEE]);
  const { logger, lines } = captureLogger();
  const driver = createBleDriver(options);
  await driver.start(gateway.registry.context('ble', [COFFEE], {}, logger));
  stop = () => driver.stop();
  return { gateway, lines };
}

describe('Bluetooth adapter', () => {
  // First in the file: nothing else here has loaded noble's default export yet.
  it('never loads noble\'s default export unless an adapter is configured', async () => {
    const { gateway, lines } = await start({});
    expect(require.cache[nobleMain]).toBeUndefined();
    expect(lines.find((line) => line.msg.startsWith(NO_ADAPTER))).toMatchObject({ level: 40 });
    expect((await gateway.call('GET', ['devices'])).body).toEqual([expect.objectContaining({ id: 'coffee', online: false })]);
  });

  it('reports "no Bluetooth adapter" when loading noble fails as it does here, and the gateway keeps answering', async () => {
    const failure = Object.assign(new Error('EAFNOSUPPORT, Address family not supported by protocol'), { code: 'EAFNOSUPPORT' });
    const { gateway, lines } = await start({
      adapter: 'hci',
      loadAdapter: () => {
        throw failure;
      },
    });
    const line = lines.find((entry) => entry.level === 50);
    expect(line?.msg).toBe(`${NO_ADAPTER}: BLE devices stay offline`);
    expect(line).toMatchObject({ code: ErrorCode.DeviceOffline, err: { message: expect.stringMatching(/^no Bluetooth adapter: this machine has no Bluetooth \(EAFNOSUPPORT\)/) } });
    expect((await gateway.call('GET', ['devices', 'coffee'])).body).toMatchObject({ online: false, model: 'coffee-maker' });
    expect((await gateway.call('GET', ['devices', 'coffee', 'properties', 'state'])).status).toBe(502);
    expect((await gateway.call('POST', ['devices', 'coffee', 'actions', 'brew'], { size: 'small' })).status).toBe(502);
  });

  it('loads the real default export when the config asks for the adapter, and starts whether or not there is one', async () => {
    const { gateway, lines } = await start({ adapter: 'hci' });
    expect(require.cache[nobleMain] !== undefined || lines.some((line) => line.msg.startsWith(NO_ADAPTER))).toBe(true);
    // With no adapter (this machine, CI) the failure is the clear one; with one, the driver scans.
    if (require.cache[nobleMain] === undefined) {
      expect(lines.find((line) => line.level === 50)?.msg).toBe(`${NO_ADAPTER}: BLE devices stay offline`);
    }
    expect((await gateway.call('GET', ['devices'])).status).toBe(200);
  });

  it('rejects a bad config with the key that is wrong', async () => {
    gateway = new ContractGateway(1_000);
    const unknown = gateway.registry.context('ble', [{ id: 'x', driver: 'ble', profile: 'teapot' }], {});
    await expect(createBleDriver({}).start(unknown)).rejects.toMatchObject({
      code: ErrorCode.Config,
      message: expect.stringContaining('devices[id=x].profile: unknown BLE profile "teapot" (known: coffee-maker)'),
    });
    const address = gateway.registry.context('ble', [{ id: 'y', driver: 'ble', address: 'nowhere' }], {});
    await expect(createBleDriver({}).start(address)).rejects.toMatchObject({ code: ErrorCode.Config, message: expect.stringContaining('devices[id=y].address') });
    const adapter = gateway.registry.context('ble', [], { adapter: 'usb' });
    await expect(createBleDriver({}).start(adapter)).rejects.toMatchObject({ code: ErrorCode.Config, message: expect.stringContaining('ble.adapter') });
  });
});

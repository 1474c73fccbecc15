/**
 * noble's default export opens the host's HCI socket as it loads, and throws
 * (EAFNOSUPPORT) where there is no Bluetooth. The driver loads it only when a real
 * adapter is configured, says "no Bluetooth adapter" when it fails, and keeps going.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { createBleDriver, NO_ADAPTER, NO_BINDING } from '../../drivers/ble/index.js';
import { bindingFix } from '../../drivers/ble/noble-loader.js';
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

  it('says in one line that the HCI binding is not built, and what builds it, when its .node file is missing', async () => {
    // What Node throws when bluetooth-hci-socket was installed without its install script.
    const unbuilt = Object.assign(new Error("Cannot find module '../build/Release/bluetooth_hci_socket.node'\nRequire stack:\n- .../lib/native.js"), { code: 'MODULE_NOT_FOUND' });
    const { gateway, lines } = await start({ adapter: 'hci', loadAdapter: () => { throw unbuilt; } });
    const errors = lines.filter((entry) => entry.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(new RegExp(`^${NO_BINDING.replace(/[()]/g, '\\$&')} is not built, so BLE devices stay offline; build it with: cd .+ && npm rebuild @abandonware/bluetooth-hci-socket \\(it compiles: needs python3, make and g\\+\\+\\)$`));
    expect(errors[0]!.msg).not.toContain('\n');
    expect((await gateway.call('GET', ['devices', 'coffee'])).body).toMatchObject({ online: false });
  });

  it('names the command for where the binding lives: a global install, a project, a package missing altogether', () => {
    expect(bindingFix('/usr/lib/node_modules/pasarela/node_modules/@abandonware/noble', 'unbuilt')).toBe(
      'npm rebuild -g --prefix /usr @abandonware/bluetooth-hci-socket --allow-scripts=@abandonware/bluetooth-hci-socket',
    );
    expect(bindingFix('/home/pi/.npm-global/lib/node_modules/pasarela/node_modules/@abandonware/noble', 'foreign')).toBe(
      'npm rebuild -g --prefix /home/pi/.npm-global @abandonware/bluetooth-hci-socket --allow-scripts=@abandonware/bluetooth-hci-socket',
    );
    expect(bindingFix('/nowhere/lib/node_modules/pasarela/node_modules/@abandonware/noble', 'absent')).toBe('npm install -g --prefix /nowhere pasarela --allow-scripts=@abandonware/bluetooth-hci-socket');
    expect(bindingFix('/srv/home-gw/node_modules/@abandonware/noble', 'unbuilt')).toBe('cd /srv/home-gw && npm rebuild @abandonware/bluetooth-hci-socket');
    expect(bindingFix('/srv/home-gw/node_modules/pasarela/node_modules/@abandonware/noble', 'absent')).toBe('cd /srv/home-gw && npm install');
  });
});

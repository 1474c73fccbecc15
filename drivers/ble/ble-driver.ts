/**
 * The BLE driver. Devices are reached through noble: over given bindings (a
 * simulated radio, no adapter needed) or, only when the config asks for it
 * (`ble: { adapter: hci }`), through noble's default export on the host's adapter.
 * Without a usable adapter it says "no Bluetooth adapter" once, keeps its devices
 * offline and lets the rest of the gateway run.
 *
 * It scans (filtered by service uuids and a name pattern) and connects the configured
 * devices as they are found; other devices that pass the scan filters are added too,
 * with the profile whose `match` they fit, or the generic GATT view. A device that
 * advertises the JSTP service (it speaks JSTP itself, see jstp-gatt.ts) is added
 * without any filter, unless filters are set and it does not pass them.
 *
 * Config:
 * ```yaml
 * ble: { adapter: hci, scan: { services: [180f], name: "^Thermo" } }
 * devices:
 *   - { id: coffee, driver: ble, profile: coffee-maker, name: "Cafetera" }   # matched by advertised name
 *   - { id: tag, driver: ble, address: "aa:bb:cc:dd:ee:ff" }                 # no profile: generic view
 * ```
 */
import { z } from 'zod';
import { JSTP_GATT_SERVICE } from '../../gateway/jstp/codec/ble-frames.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import type { BackoffOptions } from '../../gateway/jstp/backoff.js';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import type { DeviceConfig, Driver, DriverContext } from '../driver.js';
import { reconnectSchema } from '../reconnect-schema.js';
import { BleDevice, type Timing } from './ble-device.js';
import { compileGattProfile, nobleUuid, type GattProfile } from './gatt-profile.js';
import { NO_ADAPTER, NO_BINDING, nobleOnAdapter, nobleWithBindings } from './noble-loader.js';
import type { Noble, NobleBindings, NoblePeripheral, NobleState } from './noble-types.js';

// noble's events carry different arguments each; EventEmitter takes any listener.
type Listener = (...args: any[]) => void;
import { builtinProfiles } from './profiles/index.js';

export interface BleDriverOptions {
  /** noble bindings to reach devices through, e.g. a simulated radio. */
  bindings?: NobleBindings;
  /** `hci`: the host's adapter, through noble's default export (also `ble.adapter` in the config). */
  adapter?: 'hci' | 'none';
  scan?: { services?: string[]; name?: string };
  /** More profiles by name, beside the built-in ones. */
  profiles?: Readonly<Record<string, unknown>>;
  connectTimeoutMs?: number;
  /** Per GATT operation (default 5 s). */
  operationTimeoutMs?: number;
  /** Delays between connection attempts (default 500 ms doubling to 30 s; also `ble.reconnect`). */
  reconnect?: BackoffOptions;
  /** How noble's default export is loaded (tests give one that fails as a machine with no adapter does). */
  loadAdapter?: () => unknown;
}

const uuid = z.string().regex(/^[0-9a-f-]{4,36}$/i, 'a uuid');
const positive = z.number().int().positive();

const optionsSchema = z.strictObject({
  adapter: z.enum(['hci', 'none']).optional(),
  scan: z.strictObject({ services: z.array(uuid).optional(), name: z.string().optional() }).optional(),
  connectTimeoutMs: positive.optional(),
  operationTimeoutMs: positive.optional(),
  reconnect: reconnectSchema.optional(),
});

const deviceSchema = z
  .object({
    id: z.string().min(1),
    driver: z.string(),
    profile: z.string().min(1).optional(),
    address: z
      .string()
      .regex(/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i, 'aa:bb:cc:dd:ee:ff')
      .optional(),
    /** The advertised local name; also the device's title. */
    name: z.string().min(1).optional(),
    title: z.string().optional(),
  })
  .loose();

type BleDeviceConfig = z.infer<typeof deviceSchema>;

function configError(where: string, issues: readonly z.core.$ZodIssue[]): PasarelaError {
  const detail = issues.map((issue) => `${[where, ...issue.path].join('.')}: ${issue.message}`).join('; ');
  return errors.config(detail);
}

interface Configured {
  readonly config: BleDeviceConfig;
  readonly profile: GattProfile | undefined;
  readonly device: BleDevice;
}

export function createBleDriver(options: BleDriverOptions = {}): Driver {
  let noble: Noble | undefined;
  let logger: Logger | undefined;
  let configured: Configured[] = [];
  // Devices found by scanning, by noble's peripheral id.
  const found = new Map<string, BleDevice>();
  const ignored = new Set<string>();
  const listeners: [string, Listener][] = [];
  let scanning = false;

  return {
    name: 'ble',

    checkProfile(name: string, data: unknown): void {
      compileGattProfile(name, data);
    },

    async start(context: DriverContext): Promise<void> {
      logger = context.logger;
      const parsed = optionsSchema.safeParse(context.options);
      if (!parsed.success) throw configError('ble', parsed.error.issues);
      const settings = { ...parsed.data, ...definedOnly(options) };
      const timing: Timing = {
        connectTimeoutMs: settings.connectTimeoutMs ?? 10_000,
        operationTimeoutMs: settings.operationTimeoutMs ?? 5_000,
        reconnect: { initialMs: 500, maxMs: 30_000, ...settings.reconnect },
      };
      const profiles = profileBook({ ...builtinProfiles, ...options.profiles, ...context.profiles });
      const scanName = settings.scan?.name === undefined ? undefined : new RegExp(settings.scan.name);
      const scanServices = (settings.scan?.services ?? []).map(nobleUuid);

      configured = context.devices.map((entry: DeviceConfig) => {
        const result = deviceSchema.safeParse(entry);
        if (!result.success) throw configError(`devices[id=${entry.id}]`, result.error.issues);
        const config = result.data;
        const profile = config.profile === undefined ? undefined : profiles.get(config.profile, `devices[id=${config.id}].profile`);
        const device = new BleDevice({
          key: config.address?.toLowerCase() ?? config.id,
          id: config.id,
          ...(config.title ?? config.name ? { title: (config.title ?? config.name)! } : {}),
          profile,
          context,
          logger: context.logger.child({ device: config.id }),
          timing,
        });
        return { config, profile, device };
      });

      const adapter = settings.adapter ?? 'none';
      if (settings.bindings) {
        noble = nobleWithBindings(settings.bindings);
      } else if (adapter === 'hci') {
        try {
          noble = nobleOnAdapter(options.loadAdapter);
        } catch (error) {
          const message = (error as Error).message;
          // A binding that is not built is the one line that says what to run.
          context.logger.error({ err: error, code: (error as PasarelaError).code }, message.startsWith(NO_BINDING) ? message : `${NO_ADAPTER}: BLE devices stay offline`);
          return;
        }
      } else {
        if (configured.length > 0) {
          context.logger.warn(`${NO_ADAPTER} configured (set ble.adapter: hci to use this machine's): BLE devices stay offline`);
        }
        return;
      }

      const on = (event: string, listener: Listener): void => {
        noble!.on(event, listener);
        listeners.push([event, listener]);
      };
      // noble prints its warnings to the console unless someone listens.
      on('warning', (message: string) => context.logger.warn({ noble: message }, 'noble warning'));
      on('stateChange', (state: NobleState) => onState(state));
      on('discover', (peripheral: NoblePeripheral) => onDiscover(peripheral));

      // A filter at the radio only when every configured device can be found by one of its services.
      const byService = configured.every((entry) => entry.config.address === undefined && entry.config.name === undefined && (entry.profile?.match.services.length ?? 0) > 0);
      const radioFilter = byService && (configured.length > 0 || scanServices.length > 0)
        ? [...new Set([...scanServices, ...configured.flatMap((entry) => entry.profile!.match.services)])]
        : [];

      function onState(state: NobleState): void {
        if (state === 'poweredOn') {
          if (scanning) return;
          context.logger.info({ services: radioFilter }, 'Bluetooth adapter on: scanning');
          noble!.startScanning(radioFilter, false);
          scanning = true;
          return;
        }
        scanning = false;
        if (state === 'unsupported' || state === 'unauthorized') context.logger.error({ state }, `${NO_ADAPTER} usable (${state}): BLE devices stay offline`);
        else context.logger.warn({ state }, 'Bluetooth adapter not powered on');
      }

      // A noble that powered on before (the driver started again) sends no new stateChange.
      if (noble.initialized && noble.state === 'poweredOn') onState('poweredOn');

      function onDiscover(peripheral: NoblePeripheral): void {
        const ad = peripheral.advertisement;
        const advertised = (ad.serviceUuids ?? []).map(nobleUuid);
        const entry = configured.find((candidate) => !candidate.device.attached && matches(candidate, peripheral, advertised));
        if (entry) {
          context.logger.info({ device: entry.config.id, address: peripheral.address, name: ad.localName }, 'BLE device found');
          entry.device.attach(peripheral);
          return;
        }
        if (found.has(peripheral.id) || ignored.has(peripheral.id) || configured.some((candidate) => candidate.device.attached && sameAddress(candidate, peripheral))) return;
        const filtered = scanServices.length > 0 || scanName !== undefined;
        // A device that speaks JSTP describes itself: it needs no filter to be worth adding.
        const passes = filtered
          ? (scanServices.length === 0 || advertised.some((uuid) => scanServices.includes(uuid))) && (scanName === undefined || scanName.test(ad.localName ?? ''))
          : advertised.includes(JSTP_GATT_SERVICE);
        if (!passes) {
          ignored.add(peripheral.id);
          context.logger.debug({ address: peripheral.address, name: ad.localName }, 'BLE device ignored (not configured, or outside the scan filters)');
          return;
        }
        const profile = profiles.matching(advertised, ad.localName);
        const device = new BleDevice({
          key: peripheral.address.toLowerCase(),
          ...(ad.localName ? { title: ad.localName } : {}),
          profile,
          context,
          logger: context.logger.child({ address: peripheral.address }),
          timing,
        });
        found.set(peripheral.id, device);
        context.logger.info({ address: peripheral.address, name: ad.localName, profile: profile?.name ?? 'generic' }, 'BLE device discovered');
        device.attach(peripheral);
      }
    },

    async stop(): Promise<void> {
      if (noble) {
        for (const [event, listener] of listeners) noble.off(event, listener);
        listeners.length = 0;
        if (scanning) noble.stopScanning();
        scanning = false;
      }
      await Promise.all([...configured.map((entry) => entry.device.stop()), ...[...found.values()].map((device) => device.stop())]);
      configured = [];
      found.clear();
      ignored.clear();
      logger?.debug('BLE driver stopped');
    },
  };
}

function definedOnly(options: BleDriverOptions): BleDriverOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as BleDriverOptions;
}

function sameAddress(entry: Configured, peripheral: NoblePeripheral): boolean {
  return entry.config.address !== undefined && entry.config.address.toLowerCase() === peripheral.address.toLowerCase();
}

/** By address, else by advertised name, else (neither configured) by the profile's services. */
function matches(entry: Configured, peripheral: NoblePeripheral, advertised: readonly string[]): boolean {
  const { config, profile } = entry;
  if (config.address !== undefined) return sameAddress(entry, peripheral);
  if (config.name !== undefined) return config.name === peripheral.advertisement.localName;
  const services = profile?.match.services ?? [];
  return services.length > 0 && services.some((uuid) => advertised.includes(uuid));
}

/** Profiles compiled on first use; an unknown or invalid one is a config error. */
function profileBook(data: Readonly<Record<string, unknown>>) {
  const compiled = new Map<string, GattProfile>();
  const get = (name: string, where: string): GattProfile => {
    let profile = compiled.get(name);
    if (profile) return profile;
    if (!Object.hasOwn(data, name)) {
      throw errors.config(`${where}: unknown BLE profile "${name}" (known: ${Object.keys(data).join(', ')})`);
    }
    profile = compileGattProfile(name, data[name]);
    compiled.set(name, profile);
    return profile;
  };
  return {
    get,
    /** The profile a discovered device fits by its advertised services or name, if any. */
    matching(services: readonly string[], localName: string | undefined): GattProfile | undefined {
      for (const name of Object.keys(data)) {
        const profile = get(name, `profiles.${name}`);
        const { match } = profile;
        const byService = match.services.length > 0 && match.services.some((uuid) => services.includes(uuid));
        const byName = match.localName !== undefined && match.localName.test(localName ?? '');
        if (byService || byName) return profile;
      }
      return undefined;
    },
  };
}

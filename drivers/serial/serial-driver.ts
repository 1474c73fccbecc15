/**
 * The serial driver: devices on serial ports (USB adapters, PTYs), each speaking
 * one link protocol: `jstp-cbor` (the firmware is a JSTP engine: compact CBOR in
 * link frames) or `line` (a text command/response protocol described by a profile).
 *
 * Config:
 * ```yaml
 * serial: { commandTimeoutMs: 2000, presenceCheckMs: 500, reconnect: { initialMs: 200, maxMs: 5000 } }
 * devices:
 *   - { id: rover, driver: serial, path: /dev/ttyUSB0, baudRate: 115200, protocol: jstp-cbor }
 *   - { id: plotter, driver: serial, path: /dev/ttyACM0, protocol: line, profile: robot-line }
 * ```
 */
import type { BindingInterface } from '@serialport/bindings-cpp';
import { z } from 'zod';
import type { BackoffOptions } from '../../gateway/jstp/backoff.js';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import type { Driver, DriverContext } from '../driver.js';
import { reconnectSchema } from '../reconnect-schema.js';
import { compileLineProfile, type LineProfile } from './line-profile.js';
import { builtinLineProfiles } from './profiles/index.js';
import type { Stage } from '../../gateway/jstp/pipeline.js';
import { SerialDevice } from './serial-device.js';

export interface SerialDriverOptions {
  /** The serialport binding to open ports with (default: the OS binding). */
  binding?: BindingInterface;
  /** How long one command may wait for its answer (default 2000 ms; also `serial.commandTimeoutMs`). */
  commandTimeoutMs?: number;
  /** Delays between attempts to open an absent port or greet a silent device (default 200 ms doubling to 5 s). */
  reconnect?: BackoffOptions;
  /** How often to check that an open port's device node still exists (default 500 ms; also `serial.presenceCheckMs`). */
  presenceCheckMs?: number;
  /** More line profiles by name, beside the built-in ones. */
  profiles?: Readonly<Record<string, unknown>>;
  /** Pipeline stages of every `jstp-cbor` link's engine (signatures toward a device, metering). */
  stages?: readonly Stage[];
}

const positive = z.number().int().positive();

const optionsSchema = z.strictObject({
  commandTimeoutMs: positive.optional(),
  presenceCheckMs: z.number().int().min(0).optional(),
  reconnect: reconnectSchema.optional(),
});

const deviceSchema = z
  .object({
    id: z.string().min(1),
    driver: z.string(),
    path: z.string().min(1),
    baudRate: positive.default(115200),
    protocol: z.enum(['jstp-cbor', 'line']).default('jstp-cbor'),
    /** The line profile's name (protocol `line` only). */
    profile: z.string().min(1).optional(),
    title: z.string().optional(),
    /** The registry key; default: the port path. */
    key: z.string().min(1).optional(),
    commandTimeoutMs: positive.optional(),
  })
  .loose()
  .superRefine((device, ctx) => {
    if (device.protocol === 'line' && device.profile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['profile'], message: 'protocol line needs a profile (e.g. robot-line)' });
    }
  });

function configError(where: string, issues: readonly z.core.$ZodIssue[]): PasarelaError {
  const detail = issues.map((issue) => `${[where, ...issue.path].join('.')}: ${issue.message}`).join('; ');
  return errors.config(detail);
}

export function createSerialDriver(options: SerialDriverOptions = {}): Driver {
  let devices: SerialDevice[] = [];

  return {
    name: 'serial',

    checkProfile(name: string, data: unknown): void {
      compileLineProfile(name, data);
    },

    async start(context: DriverContext): Promise<void> {
      const parsed = optionsSchema.safeParse(context.options);
      if (!parsed.success) throw configError('serial', parsed.error.issues);
      const commandTimeoutMs = options.commandTimeoutMs ?? parsed.data.commandTimeoutMs ?? 2_000;
      const reconnect: BackoffOptions = { initialMs: 200, maxMs: 5_000, ...parsed.data.reconnect, ...options.reconnect };
      const profileData = { ...builtinLineProfiles, ...options.profiles, ...context.profiles };
      const compiled = new Map<string, LineProfile>();
      const lineProfile = (name: string, where: string): LineProfile => {
        let profile = compiled.get(name);
        if (profile) return profile;
        if (!Object.hasOwn(profileData, name)) {
          throw errors.config(`${where}: unknown line profile "${name}" (known: ${Object.keys(profileData).join(', ')})`);
        }
        profile = compileLineProfile(name, profileData[name]);
        compiled.set(name, profile);
        return profile;
      };

      const created = context.devices.map((entry) => {
        const where = `devices[id=${entry.id}]`;
        const result = deviceSchema.safeParse(entry);
        if (!result.success) throw configError(where, result.error.issues);
        const config = result.data;
        return new SerialDevice({
          id: config.id,
          key: config.key ?? config.path,
          title: config.title,
          path: config.path,
          baudRate: config.baudRate,
          protocol: config.protocol,
          lineProfile: config.protocol === 'line' ? lineProfile(config.profile!, `${where}.profile`) : undefined,
          binding: options.binding,
          commandTimeoutMs: config.commandTimeoutMs ?? commandTimeoutMs,
          reconnect,
          presenceCheckMs: options.presenceCheckMs ?? parsed.data.presenceCheckMs ?? 500,
          stages: options.stages ?? [],
        }, context);
      });
      devices = created;
      // Ports open in the background: an absent robot must not hold up the gateway.
      for (const device of created) device.start();
    },

    async stop(): Promise<void> {
      const stopping = devices;
      devices = [];
      await Promise.all(stopping.map((device) => device.stop()));
    },
  };
}

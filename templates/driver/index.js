// @ts-check
/**
 * A Pasarela driver for __NAME__ devices: each is a device on the network that
 * speaks JSON lines over TCP (simulator.js is one). Its description is data
 * (profile.yaml). Replace the link with your device's (a serial port, BLE, HTTP):
 * the Driver contract, and the contract test, stay the same.
 *
 * In a gateway's config:
 *
 *   drivers:
 *     - { module: __PACKAGE__ }
 *   devices:
 *     - { id: __NAME__, driver: __NAME__, host: 192.168.1.40, port: 4040 }
 *
 * The device's messages, one JSON document a line:
 *   device  -> {"report":{"temp":21.5,"brightness":40}}        values, when they change
 *   gateway -> {"id":1,"set":{"brightness":80}}                 a write
 *   device  -> {"id":1,"ok":{"brightness":80}}                  what it applied
 *   gateway -> {"id":2,"call":"blink","input":{"times":3}}      an action
 *   device  -> {"id":2,"ok":{"blinked":3}} or {"id":2,"error":"why","status":400}
 */
import net from 'node:net';
import { Backoff, describeProfile, errors, loadProfile, PasarelaError, readProfileFile, z } from 'pasarela/driver';

/** The keys this driver adds to a profile: where each value is in the device's messages. */
export const extension = {
  property: { field: z.string().min(1).optional() },
  action: { command: z.string().min(1).optional() },
};

/** The built-in model, from the data file beside this one. */
const builtin = await readProfileFile(new URL('./profile.yaml', import.meta.url), extension);

/** One `devices:` entry of this driver. */
const entrySchema = z.looseObject({
  id: z.string().min(1),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  /** Another model, from a profile file of the config (`profiles:`) whose `driver` is this driver. */
  profile: z.string().min(1).optional(),
});

/**
 * @param {{ name?: string, reconnect?: import('pasarela/driver').BackoffOptions }} [options]
 * @returns {import('pasarela/driver').Driver}
 */
export default function create__CLASS__Driver(options = {}) {
  const name = options.name ?? '__NAME__';
  /** @type {Connection[]} */
  let connections = [];

  return {
    name,

    // A config's profile files for this driver are checked with the same rules as profile.yaml.
    checkProfile(profileName, data) {
      loadProfile(profileName, data, extension);
    },

    async start(context) {
      const reconnect = { initialMs: 250, maxMs: 10_000, ...options.reconnect, .../** @type {object} */ (context.options.reconnect ?? {}) };
      connections = context.devices.map((entry) => {
        const parsed = entrySchema.safeParse(entry);
        if (!parsed.success) throw errors.config(`devices[id=${entry.id}]: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
        const config = parsed.data;
        const profile = config.profile === undefined ? builtin : loadProfile(config.profile, context.profiles[config.profile] ?? missing(config.profile, context.profiles), extension);
        return new Connection(config, profile, context, reconnect);
      });
      // Devices connect in the background: one that is absent is offline, and retried.
      for (const connection of connections) connection.start();
    },

    async stop() {
      const stopping = connections;
      connections = [];
      await Promise.all(stopping.map((connection) => connection.stop()));
    },
  };
}

/** @param {string} profile @param {Readonly<Record<string, unknown>>} known @returns {never} */
function missing(profile, known) {
  throw errors.config(`profile: no profile "${profile}" for this driver (profile files for it: ${Object.keys(known).join(', ') || 'none'})`);
}

/** One device: its TCP connection, reconnected with backoff, and the requests waiting for an answer. */
class Connection {
  /**
   * @param {{ id: string, host: string, port: number }} config
   * @param {import('pasarela/driver').Profile<{}, typeof extension.property, typeof extension.action>} profile
   * @param {import('pasarela/driver').DriverContext} context
   * @param {import('pasarela/driver').BackoffOptions} reconnect
   */
  constructor(config, profile, context, reconnect) {
    this.config = config;
    this.profile = profile;
    this.logger = context.logger.child({ device: config.id });
    this.backoff = new Backoff(reconnect);
    /** @type {net.Socket | undefined} */
    this.socket = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.stopped = false;
    this.nextId = 1;
    /** @type {Map<number, { resolve: (value: any) => void, reject: (error: Error) => void }>} */
    this.pending = new Map();
    this.device = context.addDevice(
      { key: `${config.host}:${config.port}`, id: config.id, ...describeProfile(profile) },
      {
        writeProperty: async (property, value, signal) => {
          const field = this.profile.properties[property]?.field ?? property;
          const applied = await this.request({ set: { [field]: value } }, signal);
          return applied[field];
        },
        invokeAction: (action, input, signal) => this.request({ call: this.profile.actions[action]?.command ?? action, input }, signal),
      },
    );
  }

  start() {
    if (this.stopped) return;
    const socket = net.connect(this.config.port, this.config.host);
    this.socket = socket;
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      this.backoff.succeeded();
      this.device.setOnline(true);
      this.logger.info('connected');
    });
    socket.on('data', (/** @type {string} */ chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') this.receive(line);
      }
    });
    socket.on('error', (error) => this.logger.debug({ err: error }, 'connection error'));
    socket.on('close', () => {
      this.socket = undefined;
      this.device.setOnline(false);
      this.failPending(errors.deviceOffline(`${this.config.id}: connection lost`));
      if (this.stopped) return;
      const delay = this.backoff.next();
      this.logger.debug({ delayMs: Math.round(delay) }, 'reconnecting');
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.failPending(errors.deviceOffline(`${this.config.id}: driver stopped`));
    const socket = this.socket;
    if (!socket) return;
    await new Promise((resolve) => {
      socket.once('close', resolve);
      socket.destroy();
    });
  }

  /** A line from the device: values it reports, or the answer to a request. A line that is not JSON is logged and skipped. */
  receive(/** @type {string} */ line) {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      this.logger.warn({ line }, 'not JSON: ignored');
      return;
    }
    if (message.report) {
      for (const [property, spec] of Object.entries(this.profile.properties)) {
        const value = message.report[spec.field ?? property];
        if (value !== undefined) this.device.reportProperty(property, value);
      }
    }
    const waiting = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (!waiting) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) {
      // The device's refusal picks the answer: a 400 for a value it cannot take, else 502.
      const error = message.status === 400 ? errors.badValue(String(message.error)) : errors.deviceOffline(String(message.error));
      waiting.reject(error);
    } else {
      waiting.resolve(message.ok);
    }
  }

  /**
   * Sends a request and resolves with the device's `ok`. Answers 502 at once when the
   * link is down; when `signal` aborts (the gateway answered 504), stops waiting.
   * @param {object} message @param {AbortSignal} signal
   */
  request(message, signal) {
    const socket = this.socket;
    if (!socket || socket.connecting) return Promise.reject(errors.deviceOffline(`${this.config.id} is not connected`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        reject(signal.reason instanceof PasarelaError ? signal.reason : errors.deviceTimeout(`${this.config.id}: no answer`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (value) => (signal.removeEventListener('abort', onAbort), resolve(value)),
        reject: (error) => (signal.removeEventListener('abort', onAbort), reject(error)),
      });
      socket.write(`${JSON.stringify({ id, ...message })}\n`);
    });
  }

  /** @param {Error} error */
  failPending(error) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiting of pending) waiting.reject(error);
  }
}

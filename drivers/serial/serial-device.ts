/**
 * One device on one serial port: opens the port (retrying with backoff while it is
 * absent), speaks the configured link protocol on it, says hello to learn what the
 * device is, and maps it onto the Driver SDK. The port vanishing marks the device
 * offline and fails what was in flight with 502; it comes back when the port does.
 */
import type { BindingInterface } from '@serialport/bindings-cpp';
import type { Logger } from '../../gateway/jstp/logger.js';
import { Backoff, type BackoffOptions } from '../../gateway/jstp/backoff.js';
import { errors } from '../../gateway/jstp/errors.js';
import type { DeviceDescription, DeviceHandle, DriverContext, PropertySpec } from '../driver.js';
import type { Stage } from '../../gateway/jstp/pipeline.js';
import { JstpLink } from './jstp-link.js';
import type { Link, LinkListener, LinkProtocol } from './link.js';
import { LineLink } from './line-link.js';
import type { LineProfile } from './line-profile.js';
import { openPort, type OpenPort } from './port.js';

/** The link's counters, as a read-only property of the device. */
export const LINK_PROPERTY: PropertySpec = {
  type: 'object',
  title: 'Serial link',
  description: 'counters of the link: frames or lines received, dropped, lost; timeouts; port opens',
  // Counters move with every frame: GET reads them live; PATCH comes only when a drop, loss or timeout is counted.
  observable: false,
};

export interface SerialDeviceSettings {
  id: string;
  key: string;
  title: string | undefined;
  path: string;
  baudRate: number;
  protocol: LinkProtocol;
  lineProfile: LineProfile | undefined;
  binding: BindingInterface | undefined;
  commandTimeoutMs: number;
  reconnect: BackoffOptions;
  presenceCheckMs: number;
  stages: readonly Stage[];
}

export class SerialDevice {
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private handle: DeviceHandle | undefined;
  private port: OpenPort | undefined;
  private link: Link | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The pause between two hellos; `drop()` ends it early. */
  private pause: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  private greeting = false;
  /** The device announced itself during a hello: start over at once. */
  private greetAgain = false;
  private stopped = false;
  private online = false;
  private opens = 0;
  private warnedAbsent = false;
  private countersDue = false;

  constructor(private readonly settings: SerialDeviceSettings, private readonly context: DriverContext) {
    this.logger = context.logger.child({ device: settings.id, path: settings.path });
    this.backoff = new Backoff(settings.reconnect, { where: 'serial.reconnect' });
  }

  start(): void {
    const { settings } = this;
    const known = settings.lineProfile?.description;
    this.handle = this.context.addDevice(
      { key: settings.key, id: settings.id, ...this.describe(known ?? {}) },
      {
        readProperty: (name, signal) => this.readProperty(name, signal),
        writeProperty: (name, value, signal) => this.requireLink().write(name, value, signal),
        invokeAction: (name, input, signal) => this.requireLink().invoke(name, input, signal),
      },
    );
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.drop();
  }

  private describe(description: DeviceDescription): DeviceDescription {
    const title = this.settings.title ?? description.title ?? `Serial device on ${this.settings.path}`;
    return { ...description, title, properties: { ...description.properties, link: LINK_PROPERTY } };
  }

  private async readProperty(name: string, signal: AbortSignal): Promise<unknown> {
    if (name === 'link') return this.counters();
    return this.requireLink().read(name, signal);
  }

  private counters(): Record<string, number> {
    return { ...this.link?.counters(), portOpens: this.opens };
  }

  private requireLink(): Link {
    if (!this.link || !this.online) {
      throw errors.deviceOffline(`serial device ${this.settings.id} is offline`);
    }
    return this.link;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { settings } = this;
    let port: OpenPort;
    try {
      port = await openPort({ path: settings.path, baudRate: settings.baudRate, binding: settings.binding, presenceCheckMs: settings.presenceCheckMs }, {
        data: (bytes) => this.link?.receive(bytes),
        lost: (error) => {
          if (this.port === port) this.lost(error);
        },
      });
    } catch (error) {
      // Absent until plugged in: say so once, then retry quietly.
      if (!this.warnedAbsent) this.logger.warn({ err: error }, 'serial port not available; retrying with backoff');
      this.warnedAbsent = true;
      this.retry();
      return;
    }
    if (this.stopped) {
      await port.close();
      return;
    }
    this.warnedAbsent = false;
    this.opens++;
    this.port = port;
    this.link = this.createLink(port);
    this.logger.info({ protocol: settings.protocol, baudRate: settings.baudRate }, 'serial port open');
    void this.greet();
  }

  private createLink(port: OpenPort): Link {
    const listener: LinkListener = {
      property: (name, value) => this.handle?.reportProperty(name, value),
      event: (name, data) => this.handle?.reportEvent(name, data),
      announced: () => {
        this.logger.info('device announced itself (it booted)');
        if (this.greeting) {
          this.greetAgain = true;
          this.endPause();
        } else {
          void this.greet();
        }
      },
      countersChanged: () => this.countersChanged(),
    };
    const options = {
      write: (bytes: Uint8Array) => port.write(bytes),
      listener,
      logger: this.logger,
      commandTimeoutMs: this.settings.commandTimeoutMs,
      helloTimeoutMs: Math.min(this.settings.commandTimeoutMs, 1_000),
      name: this.settings.path,
      stages: this.settings.stages,
    };
    return this.settings.protocol === 'line' ? new LineLink(options, this.settings.lineProfile!) : new JstpLink(options);
  }

  /** Learns what the device is and its values; retries while the port stays open and the device is silent. */
  private async greet(): Promise<void> {
    if (this.greeting) return;
    this.greeting = true;
    const link = this.link;
    try {
      while (!this.stopped && link && this.link === link) {
        this.greetAgain = false;
        try {
          const hello = await link.hello();
          if (this.link !== link || this.stopped) return;
          this.handle?.describe(this.describe(hello.description));
          for (const [name, value] of Object.entries(hello.values)) this.handle?.reportProperty(name, value);
          this.backoff.succeeded();
          if (!this.online) {
            this.online = true;
            this.handle?.setOnline(true);
            this.logger.info('serial device online');
          }
          return;
        } catch (error) {
          if (this.link !== link || this.stopped) return;
          this.logger.debug({ err: error }, 'no hello from the device yet');
          if (this.greetAgain) {
            this.greetAgain = false;
            continue;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              this.pause = undefined;
              resolve();
            }, this.backoff.next());
            this.pause = { timer, resolve };
          });
        }
      }
    } finally {
      this.greeting = false;
    }
  }

  private lost(error: Error | undefined): void {
    this.logger.warn({ err: error }, 'serial port lost; device offline');
    void this.drop();
    this.retry();
  }

  /** Closes the link and port; the device goes offline. */
  private async drop(): Promise<void> {
    const link = this.link;
    const port = this.port;
    this.endPause();
    this.link = undefined;
    this.port = undefined;
    link?.close();
    if (this.online) {
      this.online = false;
      this.handle?.setOnline(false);
    }
    await port?.close();
  }

  private endPause(): void {
    if (!this.pause) return;
    clearTimeout(this.pause.timer);
    this.pause.resolve();
    this.pause = undefined;
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.backoff.next());
  }

  private countersChanged(): void {
    if (this.countersDue) return;
    this.countersDue = true;
    // Noise drops frames in bursts: one PATCH per burst is enough.
    queueMicrotask(() => {
      this.countersDue = false;
      if (this.link) this.handle?.reportProperty('link', this.counters());
    });
  }
}

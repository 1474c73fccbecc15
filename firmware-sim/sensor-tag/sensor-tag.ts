/**
 * A simulated BLE sensor tag whose firmware speaks JSTP itself: the BLE counterpart of
 * the serial robot. It serves the JSTP GATT service (gateway/jstp/codec/ble-frames.ts):
 * the central writes link frames to its characteristic in ATT-sized pieces, and the
 * tag notifies its frames back the same way. When a central subscribes it announces
 * its description (`PUT ["description"]`), then reports its temperature and battery
 * (`PATCH ["properties", name] {value}`); `POST ["actions", "blink"] {times}` blinks
 * its LED. Every subscription starts a fresh link (its aliases are per connection).
 */
import { framePieces, JSTP_GATT_CHARACTERISTIC, JSTP_GATT_SERVICE } from '../../gateway/jstp/codec/ble-frames.js';
import { FramedDispatchLink } from '../../gateway/jstp/codec/framed-link.js';
import type { FrameCounters } from '../../gateway/jstp/codec/frames.js';
import type { Channel } from '../../gateway/jstp/channel.js';
import { createDispatch } from '../../gateway/jstp/dispatch.js';
import { Engine, type Incoming } from '../../gateway/jstp/engine.js';
import { Status } from '../../gateway/jstp/errors.js';
import { silentLogger, type Logger } from '../../gateway/jstp/logger.js';
import { GattServer } from '../coffee-maker/gatt-server.js';
import { SimulatedRadio } from '../coffee-maker/radio.js';
import { MAX_BLINKS, TAG_DESCRIPTION } from './description.js';

export const DEFAULT_TAG_ADDRESS = '4a:53:54:00:00:01';

export interface SimulatedSensorTagOptions {
  /** Put it on this radio (beside other peripherals) instead of a radio of its own. */
  radio?: SimulatedRadio;
  /** Default `4a:53:54:00:00:01`. */
  address?: string;
  /** The advertised local name (default `JSTP Tag`). */
  name?: string;
  /** ATT MTU after the exchange (default 23, the minimum: frames go in 20-byte pieces). */
  mtu?: number;
  /** How often it reports its temperature (default 2 s); the battery every 30 reports. */
  intervalMs?: number;
  /** Notifications (counted from 1) that never leave the tag, as when its buffer overflows. */
  loseNotification?: (n: number) => boolean;
  logger?: Logger;
}

interface Session {
  readonly frames: FramedDispatchLink;
  readonly channel: Channel;
}

export class SimulatedSensorTag {
  readonly radio: SimulatedRadio;
  readonly address: string;
  readonly gatt: GattServer;
  private readonly engine: Engine;
  private readonly ownRadio: boolean;
  private readonly intervalMs: number;
  private readonly loseNotification: ((n: number) => boolean) | undefined;
  private notifications = 0;
  private session: Session | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private reports = 0;
  private values = { temperature: 21.5, battery: 97 };
  private blinkCount = 0;
  private stopped = false;

  constructor(options: SimulatedSensorTagOptions = {}) {
    this.address = options.address ?? DEFAULT_TAG_ADDRESS;
    this.ownRadio = options.radio === undefined;
    this.radio = options.radio ?? new SimulatedRadio();
    this.intervalMs = options.intervalMs ?? 2_000;
    this.loseNotification = options.loseNotification;
    this.engine = new Engine({ logger: options.logger ?? silentLogger() });
    this.bindResources();
    this.gatt = new GattServer([
      {
        uuid: JSTP_GATT_SERVICE,
        characteristics: [
          {
            uuid: JSTP_GATT_CHARACTERISTIC,
            properties: ['write', 'writeWithoutResponse', 'notify'],
            write: (piece) => this.session?.frames.receive(piece),
            subscribed: (on, mtu) => (on ? this.open(mtu) : this.end()),
          },
        ],
      },
    ]);
    this.radio.addPeripheral({
      address: this.address,
      localName: options.name ?? 'JSTP Tag',
      serviceUuids: [JSTP_GATT_SERVICE],
      mtu: options.mtu ?? 23,
      gatt: this.gatt,
    });
  }

  /** How many times the LED blinked, all told. */
  get blinks(): number {
    return this.blinkCount;
  }

  /** What the tag's decoder counted of the frames the central wrote (none before a subscription). */
  get counters(): FrameCounters | undefined {
    return this.session?.frames.counters;
  }

  /** The room warms up: the next report carries it. */
  setTemperature(celsius: number): void {
    this.values.temperature = celsius;
  }

  /** Stops its timers and takes it off the air (closing the radio if it made it). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.end();
    this.engine.close();
    if (this.ownRadio) this.radio.close();
    else this.radio.removePeripheral(this.address);
  }

  private bindResources(): void {
    const on = (method: 'GET' | 'PUT' | 'POST', resource: string[], handler: (incoming: Incoming) => unknown): void => {
      this.engine.bind({ method, resource }, handler);
    };
    on('GET', ['description'], () => TAG_DESCRIPTION);
    on('GET', ['properties'], () => ({ ...this.values }));
    on('GET', ['properties', ':name'], (incoming) => {
      const name = String(incoming.params.name);
      if (!Object.hasOwn(this.values, name)) return refuse(incoming, Status.NotFound, `no property ${name}`);
      return this.values[name as keyof typeof this.values];
    });
    on('PUT', ['properties', ':name'], (incoming) => refuse(incoming, Status.Forbidden, `${String(incoming.params.name)} is read-only`));
    on('POST', ['actions', 'blink'], (incoming) => {
      const times = (incoming.body as { times?: unknown } | undefined)?.times ?? 3;
      if (!Number.isInteger(times) || (times as number) < 1 || (times as number) > MAX_BLINKS) {
        return refuse(incoming, Status.BadDispatch, `times must be an integer from 1 to ${MAX_BLINKS}`);
      }
      this.blinkCount += times as number;
      return { blinked: times };
    });
  }

  /** A central subscribed: a new link, the announcement, then the reports. */
  private open(mtu: number): void {
    if (this.stopped) return;
    this.end();
    const channel: Channel = { id: `ble tag ${this.address}`, send: (dispatch) => session.frames.send(dispatch) };
    const session: Session = {
      channel,
      frames: new FramedDispatchLink({
        write: (frame) => {
          for (const piece of framePieces(frame, mtu)) {
            if (this.loseNotification?.(++this.notifications)) continue;
            this.gatt.notify(JSTP_GATT_SERVICE, JSTP_GATT_CHARACTERISTIC, piece);
          }
        },
        onDispatch: (raw) => this.engine.receive(raw, channel),
        onRefused: (raw, reason) => this.engine.refuse(raw, channel, reason),
        onUndecodable: () => undefined,
        offerAliases: true,
      }),
    };
    this.session = session;
    this.push('PUT', ['description'], TAG_DESCRIPTION);
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref?.();
  }

  private end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const session = this.session;
    this.session = undefined;
    if (session) this.engine.detach(session.channel);
  }

  private report(): void {
    this.reports++;
    // A slow random walk around the room's temperature, in hundredths.
    this.values.temperature = Math.round((this.values.temperature + (Math.random() - 0.5) * 0.2) * 100) / 100;
    this.push('PATCH', ['properties', 'temperature'], { value: this.values.temperature });
    if (this.reports % 30 === 0) {
      this.values.battery = Math.max(0, this.values.battery - 1);
      this.push('PATCH', ['properties', 'battery'], { value: this.values.battery });
    }
  }

  private push(method: 'PATCH' | 'PUT', resource: string[], body: unknown): void {
    this.session?.frames.send(createDispatch(method, resource, { body }));
  }
}

function refuse(incoming: Incoming, status: number, reason: string): undefined {
  incoming.answer(status, { reason });
  return undefined;
}

export function createSimulatedSensorTag(options: SimulatedSensorTagOptions = {}): SimulatedSensorTag {
  return new SimulatedSensorTag(options);
}

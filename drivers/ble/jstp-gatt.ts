/**
 * A BLE device that speaks JSTP itself (gateway/jstp/codec/ble-frames.ts): the device's
 * link over its JSTP characteristic, for one connection. Frames go out cut into
 * ATT-sized writes through the device's GATT queue (so they never interleave with
 * other requests); notifications come back in pieces that the frame decoder joins.
 * What the link drops is counted: frames (bad CRC or COBS, lost sequence numbers),
 * unknown aliases, writes that failed, command timeouts.
 */
import { DEFAULT_ATT_MTU, framePieces } from '../../gateway/jstp/codec/ble-frames.js';
import { errors } from '../../gateway/jstp/errors.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import type { Stage } from '../../gateway/jstp/pipeline.js';
import type { PropertySpec } from '../driver.js';
import { JstpDeviceLink, type LinkHello, type LinkListener } from '../jstp-device-link.js';
import * as gatt from './gatt-ops.js';
import type { GattQueue } from './gatt-queue.js';
import type { NobleCharacteristic } from './noble-types.js';

/** The link's counters, as a read-only property of the device. */
export const JSTP_LINK_PROPERTY: PropertySpec = {
  type: 'object',
  title: 'BLE link',
  description: 'counters of the JSTP link: frames received, dropped, lost; unknown aliases; failed writes; timeouts',
  observable: false,
};

export interface JstpGattOptions {
  characteristic: NobleCharacteristic;
  queue: GattQueue;
  /** The connection's ATT MTU now (it may grow after the exchange). */
  mtu: () => number | null;
  /** The device, in errors and logs. */
  name: string;
  listener: LinkListener;
  logger: Logger;
  commandTimeoutMs: number;
  stages?: readonly Stage[];
}

/** How many times the hello is tried: the device announces itself as it comes up, failing a hello already on its way. */
const HELLO_ATTEMPTS = 3;

export class JstpGattSession {
  private readonly link: JstpDeviceLink;
  private readonly withoutResponse: boolean;
  private writesFailed = 0;
  private closed = false;

  constructor(private readonly options: JstpGattOptions) {
    const { name } = options;
    const properties = options.characteristic.properties;
    // A command is sent at once; a request waits for its response before the next piece.
    this.withoutResponse = properties.includes('writeWithoutResponse');
    if (!this.withoutResponse && !properties.includes('write')) throw errors.notSupported(`the JSTP characteristic of ${name} is not writable`);
    this.link = new JstpDeviceLink({
      write: (frame) => this.write(frame),
      listener: options.listener,
      logger: options.logger,
      commandTimeoutMs: options.commandTimeoutMs,
      helloTimeoutMs: Math.min(options.commandTimeoutMs, 2_000),
      channelId: `ble ${name}`,
      name,
      errors: {
        gone: () => errors.deviceOffline(`BLE device ${name} is not connected`),
        stopped: () => errors.deviceOffline(`the BLE link to ${name} closed`),
        restarted: () => errors.deviceOffline(`BLE device ${name} restarted`),
      },
      ...(options.stages ? { stages: options.stages } : {}),
    });
  }

  /** A notification from the JSTP characteristic: a piece of a frame. */
  receive(piece: Uint8Array): void {
    this.link.receive(piece);
  }

  /** Learns the description and values, once more if the device's own announcement got in the way. */
  async hello(): Promise<LinkHello> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.link.hello();
      } catch (error) {
        if (this.closed || attempt >= HELLO_ATTEMPTS) throw error;
        this.options.logger.debug({ err: error, attempt }, 'JSTP hello failed; trying again');
      }
    }
  }

  read(name: string, signal?: AbortSignal): Promise<unknown> {
    return this.link.read(name, signal);
  }

  writeProperty(name: string, value: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.link.write(name, value, signal);
  }

  invoke(name: string, input: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.link.invoke(name, input, signal);
  }

  counters(): Record<string, number> {
    return { ...this.link.counters(), writesFailed: this.writesFailed };
  }

  close(): void {
    this.closed = true;
    this.link.close();
  }

  /** One frame as ATT-sized writes, queued together so no other request lands between them. */
  private write(frame: Uint8Array): void {
    if (this.closed) return;
    const { characteristic, queue } = this.options;
    for (const piece of framePieces(frame, this.options.mtu() ?? DEFAULT_ATT_MTU)) {
      queue.run('JSTP write', (signal) => gatt.write(characteristic, piece, this.withoutResponse, signal)).catch((error: unknown) => {
        // The frame is broken now; the device drops it on its CRC. A request on it times out (504).
        this.writesFailed++;
        this.options.logger.debug({ err: error }, 'JSTP write failed');
        this.options.listener.countersChanged();
      });
    }
  }
}

/**
 * What the serial device asks of a link protocol (jstp-cbor frames, or a text line
 * protocol): the same operations whatever the bytes look like. Types only.
 */
import { type Logger } from '../../gateway/jstp/logger.js';
import type { Stage } from '../../gateway/jstp/pipeline.js';
import type { LinkHello, LinkListener } from '../jstp-device-link.js';

export type { LinkHello, LinkListener } from '../jstp-device-link.js';

export type LinkProtocol = 'jstp-cbor' | 'line';

export interface LinkOptions {
  /** Writes bytes to the port. */
  write(bytes: Uint8Array): void;
  listener: LinkListener;
  logger: Logger;
  /** How long one command may wait for its answer. */
  commandTimeoutMs: number;
  /** How long each command of `hello` may wait: short, since a device just plugged in may miss the first. */
  helloTimeoutMs: number;
  /** For logs and channel ids, e.g. the port path. */
  name: string;
  /** Pipeline stages of a JSTP link's engine (a line link has none: it speaks no dispatches). */
  stages?: readonly Stage[];
}

/**
 * One open port's protocol. Every call is one command at a time on the wire; it
 * rejects with a PasarelaError whose status is the answer (400, 403, 404, 501 from
 * the device; 504 when it did not answer in time; 502 when the port went away).
 */
export interface Link {
  readonly protocol: LinkProtocol;
  /** Learns the description and values; its commands use the hello timeout. */
  hello(signal?: AbortSignal): Promise<LinkHello>;
  read(name: string, signal?: AbortSignal): Promise<unknown>;
  write(name: string, value: unknown, signal?: AbortSignal): Promise<unknown>;
  invoke(name: string, input: unknown, signal?: AbortSignal): Promise<unknown>;
  /** Bytes read from the port. */
  receive(bytes: Uint8Array): void;
  /** The link's counters, shown as the device's read-only `link` property. */
  counters(): Record<string, number>;
  /** The port is gone or the driver stops: whatever is pending fails with 502. */
  close(): void;
}

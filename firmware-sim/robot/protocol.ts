/**
 * What the robot's firmware does on its serial line, whichever link protocol it
 * speaks: take bytes in, turn model changes into bytes out, say hello.
 */
import { type Logger } from '../../gateway/jstp/logger.js';
import type { RobotChange, RobotModel } from './model.js';

export interface FirmwareContext {
  readonly model: RobotModel;
  /** Sends bytes to the gateway (through the noise, when some is injected). */
  write(bytes: Uint8Array): void;
  readonly logger: Logger;
}

export interface FirmwareProtocol {
  /** Bytes that arrived from the gateway. */
  receive(bytes: Uint8Array): void;
  /** A change of the model to tell the gateway about. */
  report(change: RobotChange): void;
  /** What the firmware says when it boots or its line comes up. */
  announce(): void;
  /** Drops state and timers; nothing is written after it. */
  close(): void;
}

export type LinkProtocolName = 'jstp-cbor' | 'line';

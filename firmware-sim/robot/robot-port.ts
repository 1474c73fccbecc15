/**
 * Keeps a simulated robot on a serial device node (the `b` end of a PTY pair): it
 * opens the node with serialport's OS binding, and when the node vanishes (the cable
 * is pulled) it tries again until it is back, as a robot that boots when plugged in.
 */
import { SerialPortStream } from '@serialport/stream';
import { autoDetect, type BindingInterface } from '@serialport/bindings-cpp';
import { type Logger, silentLogger } from '../../gateway/jstp/logger.js';
import type { SimulatedRobot } from './robot.js';

export interface RobotPortOptions {
  path: string;
  baudRate?: number;
  /** Between attempts to open the node (default 50 ms). */
  retryMs?: number;
  /** Default: the OS binding serialport detects. */
  binding?: BindingInterface;
  logger?: Logger;
}

export class RobotOnPort {
  private port: SerialPortStream | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly logger: Logger;
  private opened: (() => void)[] = [];

  constructor(private readonly robot: SimulatedRobot, private readonly options: RobotPortOptions) {
    this.logger = options.logger ?? silentLogger();
    this.open();
  }

  /** Resolves once the robot is on an open port. */
  ready(): Promise<void> {
    if (this.port?.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.opened.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const port = this.port;
    this.port = undefined;
    this.robot.detach();
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private open(): void {
    if (this.closed) return;
    const port = new SerialPortStream({
      binding: this.options.binding ?? autoDetect(),
      path: this.options.path,
      baudRate: this.options.baudRate ?? 115200,
      autoOpen: false,
    });
    this.port = port;
    port.open((error) => {
      if (this.closed || this.port !== port) {
        if (!error) port.close();
        return;
      }
      if (error) {
        this.port = undefined;
        this.retry();
        return;
      }
      this.logger.debug({ path: this.options.path }, 'robot on its port');
      port.once('close', () => {
        if (this.port !== port) return;
        this.port = undefined;
        this.logger.debug({ path: this.options.path }, 'robot port gone');
        this.retry();
      });
      // A vanished PTY also reports an error; the close that follows is what counts.
      port.on('error', () => {});
      this.robot.attach(port);
      for (const resolve of this.opened.splice(0)) resolve();
    });
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, this.options.retryMs ?? 50);
  }
}

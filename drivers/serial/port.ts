/**
 * Opening a serial port through a serialport binding: the OS binding by default
 * (a USB adapter, a PTY), or any other, such as an in-process virtual port.
 */
import { stat } from 'node:fs/promises';
import { SerialPortStream } from '@serialport/stream';
import { autoDetect, type BindingInterface } from '@serialport/bindings-cpp';

export interface PortSettings {
  path: string;
  baudRate: number;
  /** Default: the binding serialport detects for this OS. */
  binding?: BindingInterface | undefined;
  /**
   * How often to check that the device node still exists (ports with a device node
   * only; default 500 ms; 0 never). serialport can miss a hangup: a read racing the hangup gets
   * end-of-file again and again and never fails, so a vanished node is the signal.
   */
  presenceCheckMs?: number | undefined;
}

export interface PortEvents {
  data(bytes: Uint8Array): void;
  /** The port closed on its own (unplugged, or an I/O error); not called after `close()`. */
  lost(error: Error | undefined): void;
}

export interface OpenPort {
  write(bytes: Uint8Array): void;
  /** Closes the port; resolves when it is closed. */
  close(): Promise<void>;
}

let detected: BindingInterface | undefined;

/**
 * The OS binding serialport itself uses (prebuilt), from @serialport/bindings-cpp
 * directly: the `serialport` package would load its ten parsers along with it.
 */
export function osBinding(): BindingInterface {
  detected ??= autoDetect();
  return detected;
}

/** Opens the port; rejects with the binding's error (no such file, locked, ...). */
export async function openPort(settings: PortSettings, events: PortEvents): Promise<OpenPort> {
  // Only a port with a device node is watched: a virtual port has none.
  const node = await stat(settings.path).catch(() => undefined);
  const port = new SerialPortStream({
    binding: settings.binding ?? osBinding(),
    path: settings.path,
    baudRate: settings.baudRate,
    autoOpen: false,
  });
  return new Promise((resolve, reject) => {
    port.open((error) => {
      if (error) {
        reject(error);
        return;
      }
      let closing = false;
      let gone = false;
      const lose = (cause: Error | undefined) => {
        if (closing || gone) return;
        gone = true;
        events.lost(cause);
      };
      const presence = node && watchPresence(settings, node.rdev, (cause) => {
        lose(cause);
        if (port.isOpen) port.close(() => {});
      });
      const stopWatching = () => presence?.stop();
      port.once('close', stopWatching);
      port.on('data', (chunk: Buffer) => events.data(chunk));
      port.on('close', (cause?: Error) => lose(cause));
      // A failed read or write leaves the port unusable: treat it as gone, and close it.
      port.on('error', (cause: Error) => {
        lose(cause);
        if (port.isOpen) port.close(() => {});
      });
      resolve({
        write(bytes) {
          if (!closing && !gone && port.isOpen) port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
        },
        close() {
          closing = true;
          stopWatching();
          return new Promise<void>((done) => {
            if (!port.isOpen) {
              done();
              return;
            }
            port.close(() => done());
          });
        },
      });
    });
  });
}

/** Calls `gone` once the node at `path` is missing or is another device than the one opened. */
function watchPresence(settings: PortSettings, device: number, gone: (cause: Error) => void): { stop(): void } | undefined {
  const every = settings.presenceCheckMs ?? 500;
  if (every <= 0) return undefined;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = async () => {
    let cause: Error | undefined;
    try {
      const node = await stat(settings.path);
      if (node.rdev !== device) cause = new Error(`${settings.path} is now another device`);
    } catch (error) {
      cause = error as Error;
    }
    if (stopped) return;
    if (cause) {
      stopped = true;
      gone(cause);
      return;
    }
    timer = setTimeout(() => void check(), every);
  };
  void check();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/**
 * Opening a serial port through a serialport binding: the OS binding by default
 * (a USB adapter, a PTY), or any other, such as an in-process virtual port.
 */
import { SerialPortStream } from '@serialport/stream';
import type { BindingInterface } from '@serialport/bindings-cpp';
import { SerialPort } from 'serialport';

export interface PortSettings {
  path: string;
  baudRate: number;
  /** Default: the binding serialport detects for this OS. */
  binding?: BindingInterface | undefined;
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

/** The OS binding serialport itself uses (loaded with serialport, prebuilt). */
export function osBinding(): BindingInterface {
  return SerialPort.binding;
}

/** Opens the port; rejects with the binding's error (no such file, locked, ...). */
export function openPort(settings: PortSettings, events: PortEvents): Promise<OpenPort> {
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

/**
 * In-process serial ports: a serialport binding (the interface the OS bindings
 * implement) whose ports are wired to simulated devices instead of hardware, for
 * when no PTY can be had. `plug(path)` makes a port appear and returns the device's
 * end as a byte stream; `unplug(path)` makes it vanish, as a USB cable pulled out:
 * the open port fails its reads and serialport reports a disconnection. Paths it
 * does not hold go to a fallback binding (e.g. the OS one), so one driver can reach
 * virtual and real ports alike. Each instance is its own set of ports.
 */
import { Duplex } from 'node:stream';
import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo, PortStatus } from '@serialport/bindings-cpp';

class CanceledError extends Error {
  readonly canceled = true;
}

interface PortSlot {
  readonly path: string;
  readonly device: Duplex;
  host: VirtualPortBinding | undefined;
}

class VirtualPortBinding implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  private readonly queue: Buffer[] = [];
  private waiting: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(private readonly slot: PortSlot, options: OpenOptions) {
    this.openOptions = {
      dataBits: 8, lock: true, stopBits: 1, parity: 'none', rtscts: false, xon: false, xoff: false, xany: false, hupcl: true,
      ...options,
    } as Required<OpenOptions>;
  }

  /** Bytes from the device. */
  deliver(chunk: Buffer): void {
    this.queue.push(Buffer.from(chunk));
    this.wake();
  }

  /** The device went away: the pending read fails as a disconnection. */
  unplug(): void {
    this.failure = new Error(`${this.slot.path}: device unplugged`);
    this.wake();
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    while (this.queue.length === 0) {
      if (!this.isOpen) throw new CanceledError('port closed');
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        this.waiting = { resolve, reject };
      });
    }
    const head = this.queue[0]!;
    const bytesRead = head.copy(buffer, offset, 0, Math.min(length, head.length));
    if (bytesRead === head.length) this.queue.shift();
    else this.queue[0] = head.subarray(bytesRead);
    return { buffer, bytesRead };
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw new CanceledError('port closed');
    if (this.failure) throw this.failure;
    this.slot.device.push(Buffer.from(buffer));
  }

  async close(): Promise<void> {
    if (!this.isOpen) throw new Error('port is not open');
    this.isOpen = false;
    if (this.slot.host === this) this.slot.host = undefined;
    this.wake();
  }

  async update(): Promise<void> {}
  async set(): Promise<void> {}
  async get(): Promise<PortStatus> {
    return { cts: true, dsr: true, dcd: true };
  }
  async getBaudRate(): Promise<{ baudRate: number }> {
    return { baudRate: this.openOptions.baudRate };
  }
  async flush(): Promise<void> {
    this.queue.length = 0;
  }
  async drain(): Promise<void> {}

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve();
  }
}

export class VirtualSerialPorts {
  private readonly slots = new Map<string, PortSlot>();

  constructor(private readonly fallback?: BindingInterface) {}

  /** The binding to open these ports with (`new SerialPortStream({ binding, path, baudRate })`). */
  readonly binding: BindingInterface = {
    list: async (): Promise<PortInfo[]> => [
      ...[...this.slots.keys()].map((path) => ({
        path, manufacturer: 'Pasarela simulator', serialNumber: undefined, pnpId: undefined, locationId: undefined, productId: undefined, vendorId: undefined,
      })),
      ...(this.fallback ? await this.fallback.list() : []),
    ],
    open: async (options: OpenOptions): Promise<BindingPortInterface> => {
      const slot = this.slots.get(options.path);
      if (!slot && this.fallback) return this.fallback.open(options);
      if (!slot) throw new Error(`Error: No such file or directory, cannot open ${options.path}`);
      if (slot.host) throw new Error(`Error Resource temporarily unavailable Cannot lock port ${options.path}`);
      const port = new VirtualPortBinding(slot, options);
      slot.host = port;
      return port;
    },
  };

  /** Makes a port appear at `path`; returns the device's end of the line. */
  plug(path: string): Duplex {
    if (this.slots.has(path)) throw new Error(`a device is already plugged in at ${path}`);
    const slot: PortSlot = {
      path,
      host: undefined,
      device: new Duplex({
        read() {},
        // Bytes sent while nobody has the port open are lost, as on a real line.
        write(chunk: Buffer, _encoding, callback) {
          slot.host?.deliver(chunk);
          callback();
        },
      }),
    };
    this.slots.set(path, slot);
    return slot.device;
  }

  /** Makes the port vanish: its open binding fails, the device's end closes. */
  unplug(path: string): void {
    const slot = this.slots.get(path);
    if (!slot) return;
    this.slots.delete(path);
    slot.host?.unplug();
    slot.device.destroy();
  }

  /** Unplugs every port. */
  close(): void {
    for (const path of [...this.slots.keys()]) this.unplug(path);
  }
}

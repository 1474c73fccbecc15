/**
 * A TCP proxy on loopback that records every byte it passes, both ways: what an
 * engine behind it received and sent. For a WebSocket it also reads the frames, so
 * a client's masked payloads (RFC 6455 §5.3) can be searched as the text they are.
 */
import net from 'node:net';

export type Direction = 'in' | 'out';

export class CaptureProxy {
  /** Raw bytes, per direction: `in` toward the target, `out` from it. */
  readonly raw: Record<Direction, Buffer[]> = { in: [], out: [] };
  /** WebSocket mode: each frame's payload, unmasked. */
  readonly frames: Record<Direction, Buffer[]> = { in: [], out: [] };
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server, readonly port: number, readonly websocket: boolean) {}

  static async start(targetPort: number, options: { websocket?: boolean } = {}): Promise<CaptureProxy> {
    let proxy: CaptureProxy | undefined;
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      const readers = { in: new FrameReader(), out: new FrameReader() };
      const relay = (from: net.Socket, to: net.Socket, direction: Direction): void => {
        from.on('data', (chunk: Buffer) => {
          proxy!.raw[direction].push(chunk);
          if (proxy!.websocket) proxy!.frames[direction].push(...readers[direction].push(chunk));
          to.write(chunk);
        });
      };
      relay(client, upstream, 'in');
      relay(upstream, client, 'out');
      for (const socket of [client, upstream]) {
        proxy!.sockets.add(socket);
        socket.once('close', () => proxy?.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new CaptureProxy(server, (server.address() as net.AddressInfo).port, options.websocket === true);
    return proxy;
  }

  /** Everything that passed, as text (latin1, so every byte is one character), both ways. */
  text(): string {
    const parts = [...this.raw.in, ...this.raw.out, ...this.frames.in, ...this.frames.out];
    return Buffer.concat(parts).toString('latin1');
  }

  /** The dispatches that passed one way, as JSON: lines on TCP, frames on a WebSocket. */
  messages(direction: Direction): Record<string, unknown>[] {
    const texts = this.websocket
      ? this.frames[direction].map((frame) => frame.toString('utf8'))
      : Buffer.concat(this.raw[direction]).toString('utf8').split('\n');
    const out: Record<string, unknown>[] = [];
    for (const text of texts) {
      try {
        out.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // The HTTP upgrade, a partial line: not a dispatch.
      }
    }
    return out;
  }

  clear(): void {
    for (const direction of ['in', 'out'] as const) {
      this.raw[direction].length = 0;
      this.frames[direction].length = 0;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Reads WebSocket frames from a byte stream, after the HTTP upgrade's headers. */
class FrameReader {
  private buffer = Buffer.alloc(0);
  private upgraded = false;

  push(chunk: Buffer): Buffer[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: Buffer[] = [];
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) return out;
      this.upgraded = true;
      this.buffer = this.buffer.subarray(end + 4);
    }
    for (;;) {
      if (this.buffer.length < 2) return out;
      const masked = (this.buffer[1]! & 0x80) !== 0;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return out;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return out;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskAt = offset;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return out;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= this.buffer[maskAt + (i % 4)]!;
      out.push(payload);
      this.buffer = this.buffer.subarray(offset + length);
    }
  }
}

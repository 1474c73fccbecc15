// @ts-check
/**
 * A simulated __NAME__: a TCP server that speaks the device's JSON lines (see
 * index.js), reports its temperature as it drifts, and applies writes and actions.
 * The contract test runs the driver against it; run it alone to try the driver in a
 * gateway without hardware:
 *
 *   npm run simulate -- --port 4040
 *
 * Each `new Simulated__CLASS__()` is a device of its own.
 */
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export class Simulated__CLASS__ {
  /** @param {{ intervalMs?: number }} [options] how often it reports its temperature */
  constructor(options = {}) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.temperature = 21.5;
    this.brightness = 40;
    /** Ignores requests (stays connected): what a busy or hung device does. */
    this.unresponsive = false;
    /** @type {Set<net.Socket>} */
    this.sockets = new Set();
    /** @type {net.Server | undefined} */
    this.server = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.timer = undefined;
    this.port = 0;
    this.host = '127.0.0.1';
  }

  /** Starts listening (port 0: any free port); resolves with the port. */
  async listen(port = this.port, host = this.host) {
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(undefined));
    });
    this.server = server;
    this.port = /** @type {net.AddressInfo} */ (server.address()).port;
    this.host = host;
    this.timer = setInterval(() => {
      this.temperature = Math.round((this.temperature + (Math.random() - 0.5) / 5) * 100) / 100;
      this.broadcast({ report: { temp: this.temperature } });
    }, this.intervalMs);
    return this.port;
  }

  /** Off: the connections drop and nothing listens. On: it listens again on the same port. */
  async setPowered(/** @type {boolean} */ on) {
    if (on && !this.server) await this.listen();
    if (!on) await this.stop();
  }

  async stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise((resolve) => server.close(() => resolve(undefined)));
  }

  /** @param {net.Socket} socket */
  accept(socket) {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (/** @type {string} */ chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!this.unresponsive) this.answer(socket, line);
      }
    });
    this.send(socket, { report: { temp: this.temperature, brightness: this.brightness } });
  }

  /** @param {net.Socket} socket @param {string} line */
  answer(socket, line) {
    let request;
    try {
      request = JSON.parse(line);
    } catch {
      return this.send(socket, { error: 'not JSON', status: 400 });
    }
    const { id } = request;
    if (request.set) {
      const brightness = request.set.brightness;
      if (!Number.isInteger(brightness) || brightness < 0 || brightness > 100) return this.send(socket, { id, error: 'brightness is 0-100', status: 400 });
      this.brightness = brightness;
      this.send(socket, { id, ok: { brightness } });
      return this.broadcast({ report: { brightness } });
    }
    if (request.call === 'blink') return this.send(socket, { id, ok: { blinked: request.input?.times ?? 3 } });
    this.send(socket, { id, error: `unknown request ${line}`, status: 400 });
  }

  /** @param {net.Socket} socket @param {object} message */
  send(socket, message) {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  }

  /** @param {object} message */
  broadcast(message) {
    for (const socket of this.sockets) this.send(socket, message);
  }
}

// `node simulator.js --port 4040`: one simulated device until Ctrl-C.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '4040' }, host: { type: 'string', default: '127.0.0.1' } } });
  const device = new Simulated__CLASS__();
  const port = await device.listen(Number(values.port), values.host);
  console.log(`__NAME__ simulator listening on ${values.host}:${port}`);
  process.once('SIGINT', () => void device.stop());
  process.once('SIGTERM', () => void device.stop());
}

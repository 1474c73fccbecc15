/**
 * The floor of bench/footprint.ts: a bare Node process with what any JSTP gateway
 * needs at the least, a TCP server and a ws server (on an HTTP server), on free
 * loopback ports, announcing itself with a JSON `ready` line as pasarela does.
 */
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';

const tcp = net.createServer((socket) => socket.on('data', () => undefined).on('error', () => undefined));
const server = http.createServer((_request, response) => response.end());
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', () => undefined));
tcp.listen(0, '127.0.0.1', () => {
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ msg: 'ready', tcp: tcp.address().port, http: server.address().port })}\n`);
  });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));

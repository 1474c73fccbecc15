/**
 * A client connected to a gateway's TCP port, ready, without reconnecting (a test
 * wants to see a drop), closed with the file's other cleanups.
 */
import { connect, type Client } from '../../gateway/client.js';

export async function connectedClient(tcp: number, cleanups: (() => unknown)[]): Promise<Client> {
  const peer = connect(`tcp://127.0.0.1:${tcp}`, { reconnect: false });
  cleanups.push(() => peer.close());
  await peer.ready();
  return peer;
}

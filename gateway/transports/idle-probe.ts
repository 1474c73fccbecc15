/**
 * The JSTP-level check of a quiet TCP link that carries subscriptions. TCP keepalive
 * finds a host that vanished (in minutes, with the kernel's probe counts), but not a
 * peer process that froze: its kernel still acknowledges. So when a peer that holds
 * subscriptions has sent nothing for `idleMs`, it gets a probe it must answer, and
 * when nothing at all arrives for another `idleMs`, the connection is closed and its
 * subscriptions released.
 *
 * The probe is a RELEASE of an endpoint never bound: a Pasarela engine answers it 406
 * (then 101) at once and triggers no subscription, so no handler or watcher sees it.
 * Engines without the `pasarela` tag (node-jstp) answer nothing to it, so they are not
 * probed: TCP keepalive is their check. WebSocket links have their own heartbeat.
 */
import type { Engine } from '../jstp/engine.js';
import { ErrorCode } from '../jstp/errors.js';
import type { Connection } from './connection.js';
import type { LimitReporter } from './limit-reporter.js';

export const IDLE_PROBE_ENDPOINT = { method: 'ANSWER', resource: ['pasarela', 'idle-probe'] } as const;

export function watchIdle(connection: Connection, engine: Engine, idleMs: number, report?: LimitReporter): void {
  let seen = connection.receivedCount;
  let probing = false;
  const check = (): void => {
    if (connection.isClosed) return;
    const received = connection.receivedCount;
    if (received !== seen) {
      seen = received;
      probing = false;
    } else if (probing) {
      report?.exceeded('idleProbeMs', connection.address, { idleMs });
      connection.abort(ErrorCode.PeerTimeout, `no answer to the idle probe within ${idleMs} ms`);
      return;
    } else if (connection.speaksPasarela && engine.subscriptionCount(connection) > 0) {
      probing = true;
      // The reply is not awaited: any input at all counts as the peer being alive.
      engine.peer(connection).release(IDLE_PROBE_ENDPOINT);
    }
    timer.refresh();
  };
  const timer = setTimeout(check, idleMs);
  timer.unref?.();
  connection.onClose(() => clearTimeout(timer));
}

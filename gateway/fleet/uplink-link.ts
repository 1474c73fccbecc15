/**
 * An uplink to the fleet (`uplinks: [{ url: "nats:", forward: [...] }]`): the
 * dispatches the uplink forwards, through its durable store, are published as this
 * gateway's fleet events, each with the store's id as its `Pasarela-Seq` (and as
 * `Nats-Msg-Id`, for a JetStream stream that records them): a dispatch replayed after
 * an outage or a crash is dropped by every receiver that had it, so nothing doubles.
 *
 * The uplink asks for receipts (`GET ["gateway", "received", sender]`); here the
 * answer is given once the NATS server has everything published before it (a flush):
 * the cluster has it, and only then does the store delete it. The link counts as
 * closed whenever the cluster is unreachable, so the uplink keeps storing, and replays
 * when it is back.
 */
import type { ChannelSink } from '../channel-sink.js';
import { serializeDispatch, type Dispatch } from '../jstp/dispatch.js';
import { errors } from '../jstp/errors.js';
import type { UplinkDialer, UplinkLink } from '../uplinks/dialers.js';
import { idOf } from '../uplinks/dispatch-id.js';
import type { NatsLink } from './nats-link.js';
import { eventSubject } from './subjects.js';

let sequence = 0;

class NatsUplinkLink implements UplinkLink {
  readonly id = `nats uplink #${++sequence}`;
  readonly bufferedBytes = 0;
  private closedWith: string | undefined;
  private readonly listeners = new Set<(info: { readonly reason: string }) => void>();
  private highest: { boot: number; seq: number } | undefined;
  private readonly unwatch: () => void;

  constructor(private readonly link: NatsLink, private readonly gateway: string, private readonly sink: ChannelSink) {
    this.unwatch = link.onChange((connected) => {
      if (!connected) this.close('the NATS cluster is unreachable');
    });
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  send(dispatch: Dispatch): void {
    if (this.closedWith) return;
    const resource = dispatch.resource;
    if (dispatch.method === 'GET' && dispatch.token && resource?.[0] === 'gateway' && resource[1] === 'received') {
      void this.receipt(dispatch.token);
      return;
    }
    const id = idOf(dispatch);
    if (!id || !resource || dispatch.method === 'ANSWER') return;
    const [sender, boot, seq] = id;
    // The store's id stands in for the fleet's own numbering, so receivers drop replays.
    this.link.publish(eventSubject(this.gateway, dispatch.method, resource), serializeDispatch(dispatch), {
      headers: { 'Pasarela-Seq': `${boot}.${seq}`, 'Nats-Msg-Id': `${sender}.${boot}.${seq}` },
    });
    if (!this.highest || boot > this.highest.boot || (boot === this.highest.boot && seq > this.highest.seq)) this.highest = { boot, seq };
  }

  close(reason = 'closed'): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    this.unwatch();
    this.sink.detach(this);
    for (const listener of this.listeners) listener({ reason });
    this.listeners.clear();
  }

  onClose(listener: (info: { readonly reason: string }) => void): () => void {
    if (this.closedWith) {
      listener({ reason: this.closedWith });
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Answers the uplink's receipt once the server has everything published before the question. */
  private async receipt(token: readonly string[]): Promise<void> {
    const asked = this.highest;
    try {
      await this.link.flush();
    } catch {
      return;
    }
    if (this.closedWith) return;
    this.sink.receive(
      {
        protocol: ['JSTP', '0.5'],
        method: 'ANSWER',
        token: [],
        resource: [200, token[0], token[1] ?? 'receipt'],
        timestamp: Date.now(),
        body: asked ?? { boot: 0, seq: 0 },
      },
      this,
    );
  }
}

/** The uplink dialer of the `nats:` scheme, on the fleet's one NATS connection. */
export function natsUplinkDialer(link: () => NatsLink | undefined, gateway: () => string): UplinkDialer {
  return async (_url, options) => {
    const current = link();
    if (!current?.connected) throw errors.unreachable('the fleet', 'the NATS cluster is unreachable');
    return new NatsUplinkLink(current, gateway(), options.sink);
  };
}

/**
 * A gateway's part in a fleet over NATS. Each other gateway is a channel of the
 * engine (`nats <name>`): a dispatch sent on it is published to that gateway's inbox
 * subject, and what arrives on this gateway's inbox is received from the sender's
 * channel, so transactions, answers and timeouts are the engine's own. A request
 * sent to a gateway that nobody serves gets 502 at once (NATS "no responders").
 *
 * Addressing: a `host` hop `[name, 0, "nats"]` is picked by the forwarder this
 * installs; a resource `["fleet", name, ...rest]` is rewritten by its stage into
 * `rest` with that hop in front. Local events (PATCH and POST the gateway emits) are
 * published on event subjects, and fleet BINDs subscribe to just the subjects they
 * need; an event that arrives is received as `["fleet", gateway, ...resource]`.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Channel } from '../jstp/channel.js';
import { serializeDispatch, type Dispatch, type Hop } from '../jstp/dispatch.js';
import type { Engine, Forwarder, Stage, Verdict } from '../jstp/engine.js';
import { errors } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import { randomUUID } from '../jstp/uuid.js';
import type { FleetConfig } from './config.js';
import { FleetBinds } from './fleet-binds.js';
import { Members, type Heartbeat, type Member } from './members.js';
import type { NatsLink } from './nats-link.js';
import { eventSubject, gatewayOfEventSubject, HEARTBEATS, heartbeatSubject, inboxSubject, serviceSubject, token, untoken } from './subjects.js';

const FROM = 'Pasarela-From';
/** On a `nats:` uplink's events: the store's id (uplink-link.ts). */
const SEQUENCE = 'Pasarela-Seq';
/** On a service request and its answers: the replicated service it went to. */
const SERVICE = 'Pasarela-Service';
const NATS_LABEL = 'nats';
/** The `host` address of a `nats` hop to any one gateway serving the dispatch's service. */
const ANY = '*';
/** A change of devices or leases is told this long after it (changes that come together, told once). */
const CHANGE_BEAT_MS = 100;

/**
 * What a channel of the fleet stands for: another gateway (`peer`); the events one
 * gateway publishes (`events`, in only); a replicated service, answered by whichever
 * member of its queue group took the request (`service`); or the way back to a
 * gateway that asked this one for a service (`service-reply`).
 */
type ChannelKind = 'peer' | 'events' | 'service' | 'service-reply';

class FleetChannel implements Channel {
  readonly id: string;
  constructor(
    readonly kind: ChannelKind,
    /** The gateway, or for a `service` channel the service. */
    readonly target: string,
    private readonly fleet: Fleet,
    /** For `service-reply`: the service the requests came through. */
    readonly service?: string,
  ) {
    this.id = kind === 'peer' ? `nats ${target}` : kind === 'service-reply' ? `nats ${target} via ${service}` : `nats ${kind} ${target}`;
  }
  send(dispatch: Dispatch, text?: string): void {
    // The events channel only brings events in.
    if (this.kind !== 'events') this.fleet.sendTo(this, dispatch, text);
  }
}

export interface FleetOptions {
  engine: Engine;
  link: NatsLink;
  config: FleetConfig;
  logger: Logger;
  /** Publish the PATCH and POST events this gateway emits (off when an uplink carries them). */
  publishEvents?: boolean;
  /** What this gateway says of itself in heartbeats. */
  describe(): Pick<Heartbeat, 'devices' | 'leases'>;
}

export class Fleet {
  readonly name: string;
  readonly boot = randomUUID();
  readonly members: Members;
  private readonly engine: Engine;
  private readonly link: NatsLink;
  private readonly logger: Logger;
  private readonly config: FleetConfig;
  /** Channels by kind and target: `peer kitchen`, `service kv`, `service-reply kitchen kv`... */
  private readonly channels = new Map<string, FleetChannel>();
  /** The queue subscriptions of the services this gateway serves, while it takes work. */
  private readonly serving = new Map<string, () => void>();
  private level = 'ok';
  private readonly binds: FleetBinds;
  /** The highest sequence of a `nats:` uplink's events seen per gateway boot: a replay is dropped. */
  private readonly lastEvent = new Map<string, { boot: string; seq: number }>();
  private readonly noResponders = `_INBOX.pasarela.${randomUUID().replaceAll('-', '')}`;
  private readonly cleanups: Array<() => void> = [];
  private eventSeq = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private soon: ReturnType<typeof setTimeout> | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private readonly describe: FleetOptions['describe'];
  private readonly publishEvents: boolean;

  constructor(options: FleetOptions) {
    this.engine = options.engine;
    this.link = options.link;
    this.logger = options.logger;
    this.config = options.config;
    this.name = options.config.name;
    this.describe = options.describe;
    this.publishEvents = options.publishEvents ?? true;
    this.members = new Members(options.config.offlineAfterMs);
    this.binds = new FleetBinds((subject) => this.link.subscribe(subject, (message) => this.event(message, subject)));
  }

  start(): void {
    this.cleanups.push(
      this.link.subscribe(inboxSubject(this.name), (message) => this.inbox(message)),
      this.link.subscribe(`${this.noResponders}.>`, (message) => this.unanswered(message)),
      this.link.subscribe(HEARTBEATS, (message) => this.heard(message)),
      // Tell the fleet at once when the cluster comes back, rather than a period later.
      this.link.onChange((connected) => {
        if (connected) this.beat(true);
      }),
    );
    this.heartbeat = setInterval(() => this.beat(true), this.config.heartbeatMs);
    this.sweeper = setInterval(() => this.sweep(), Math.min(1_000, this.config.offlineAfterMs / 4));
    this.heartbeat.unref?.();
    this.sweeper.unref?.();
    this.serve();
    this.beat(true);
  }

  /**
   * The saturation level this gateway reports. At `critical` it leaves the queue
   * group of every service it serves, and joins again once the level clears.
   */
  setLevel(level: string): void {
    if (level === this.level) return;
    this.level = level;
    this.serve();
    this.beat(true);
  }

  private serve(): void {
    const take = this.level !== 'critical';
    for (const service of this.config.services) {
      const unsubscribe = this.serving.get(service);
      if (take && !unsubscribe) {
        this.serving.set(service, this.link.subscribe(serviceSubject(service), (message) => this.serviceRequest(service, message), `pasarela.${token(service)}`));
      } else if (!take && unsubscribe) {
        unsubscribe();
        this.serving.delete(service);
        this.logger.warn({ service, level: this.level }, 'saturated: left the service group');
      }
    }
  }

  /** Something this gateway says of itself changed: the fleet hears it in a moment, not a period later. */
  changed(): void {
    if (this.soon || this.heartbeat === undefined) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.beat(true);
    }, CHANGE_BEAT_MS);
    this.soon.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.soon);
    this.heartbeat = undefined;
    clearInterval(this.sweeper);
    this.beat(false);
    await this.link.flush().catch(() => undefined);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const unsubscribe of this.serving.values()) unsubscribe();
    this.serving.clear();
    this.binds.close();
    for (const channel of this.channels.values()) this.engine.detach(channel);
  }

  /** The subjects fleet BINDs hold now. */
  get subscribed(): string[] {
    return this.binds.subscribed;
  }

  /** GET ["fleet"]: every gateway heard of, this one included. */
  list(): Member[] {
    const self = this.self(true);
    return [{ ...self, lastSeen: Date.now() }, ...this.members.list().filter((member) => member.name !== this.name)];
  }

  // ---- the engine's side ---------------------------------------------------------------

  /** Wraps the engine's forwarder: `nats` hops go to the fleet, the rest where they went. */
  forwarder(inner: Forwarder | undefined): Forwarder {
    return (dispatch, hop, from) => {
      if (hop[2] === NATS_LABEL) return hop[0] === ANY ? this.channel('service', String(dispatch.resource?.[0] ?? '')) : this.channel('peer', hop[0]);
      if (inner) return inner(dispatch, hop, from);
      throw errors.forwarding('forwarding is disabled');
    };
  }

  /** The fleet's stage: addressing by resource prefix, event publishing, fleet BINDs. */
  stage(): Stage {
    return {
      name: 'fleet',
      inbound: (dispatch, from) => this.inbound(dispatch, from),
      detached: (channel) => this.binds.releaseAll(channel),
    };
  }

  private inbound(dispatch: Dispatch, from: Channel | undefined): Verdict {
    const method = dispatch.method;
    if (method === 'BIND' || method === 'RELEASE') {
      const endpoint = dispatch.endpoint!;
      if (endpoint.resource[0] === 'fleet') {
        if (method === 'BIND') this.binds.bind(from, endpoint);
        else this.binds.release(from, endpoint);
      }
      return dispatch;
    }
    const host = dispatch.host;
    // A hop to this very gateway is no hop at all.
    if (host && host[0]![2] === NATS_LABEL && host[0]![0] === this.name) {
      const rest = host.slice(1);
      const next: Dispatch = { ...dispatch };
      if (rest.length > 0) next.host = rest;
      else delete next.host;
      return next;
    }
    if (method === 'ANSWER') return dispatch;
    const resource = dispatch.resource!;
    if (resource[0] === 'fleet' && resource.length >= 3 && !(from instanceof FleetChannel && from.kind === 'events')) {
      const target = String(resource[1]);
      const rest = resource.slice(2);
      if (target === this.name) return { ...dispatch, resource: rest };
      const hop: Hop = [target, 0, NATS_LABEL];
      return { ...dispatch, resource: rest, host: [hop, ...(dispatch.host ?? [])] };
    }
    if (this.publishEvents && from === undefined && (method === 'PATCH' || method === 'POST') && dispatch.token === undefined && !dispatch.host && resource[0] !== 'fleet') {
      this.publishEvent(dispatch);
    }
    return dispatch;
  }

  // ---- NATS -----------------------------------------------------------------------------

  /** @internal FleetChannel.send: a dispatch for another gateway. */
  sendTo(channel: FleetChannel, dispatch: Dispatch, text: string | undefined): void {
    const payload = text ?? serializeDispatch(dispatch);
    const transactionId = dispatch.method === 'ANSWER' ? undefined : dispatch.token?.[0];
    // The reply subject only tells of a gateway (or service) that nobody serves: answers come to our inbox.
    const reply = transactionId === undefined ? undefined : `${this.noResponders}.${channel.kind === 'service' ? 's' : 'g'}.${token(channel.target)}.${token(transactionId)}.${token(dispatch.token?.[1] ?? '')}`;
    const headers: Record<string, string> = { [FROM]: this.name };
    if (channel.kind === 'service') headers[SERVICE] = channel.target;
    if (channel.kind === 'service-reply') headers[SERVICE] = channel.service!;
    const subject = channel.kind === 'service' ? serviceSubject(channel.target) : inboxSubject(channel.target);
    const sent = this.link.publish(subject, payload, { headers, ...(reply ? { reply } : {}) });
    if (!sent && transactionId !== undefined) {
      queueMicrotask(() => this.answerUnreachable(channel, transactionId, dispatch.token?.[1], 'the NATS cluster is unreachable'));
    }
  }

  private inbox(message: Msg): void {
    const from = message.headers?.get(FROM);
    if (!from) {
      this.logger.debug({ subject: message.subject }, 'fleet message without a sender dropped');
      return;
    }
    const text = message.string();
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      this.logger.warn({ from, err: error }, 'undecodable fleet message dropped');
      return;
    }
    // Answers to a service request come back on the service's channel, where the request waits.
    const service = message.headers?.get(SERVICE);
    const channel = service ? this.channel('service', service) : this.channel('peer', from);
    this.engine.receive(raw, channel, oneLine(text) ? text : undefined);
  }

  /** A request for a service this gateway serves: answered back through the asker's inbox. */
  private serviceRequest(service: string, message: Msg): void {
    const from = message.headers?.get(FROM);
    if (!from) return;
    const text = message.string();
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      this.logger.warn({ from, service, err: error }, 'undecodable service request dropped');
      return;
    }
    this.engine.receive(raw, this.channel('service-reply', from, service), oneLine(text) ? text : undefined);
  }

  private unanswered(message: Msg): void {
    if (message.headers?.code !== 503) return;
    const [kind, target, transactionId, triggeringId] = message.subject.slice(this.noResponders.length + 1).split('.').map(untoken);
    if (target === undefined || transactionId === undefined) return;
    const channel = kind === 's' ? this.channel('service', target) : this.channel('peer', target);
    const reason = kind === 's' ? `no gateway of the fleet serves "${target}"` : `no gateway "${target}" in the fleet`;
    this.answerUnreachable(channel, transactionId, triggeringId || undefined, reason);
  }

  /** As if the gateway had answered 502: the engine routes it to whoever waits. */
  private answerUnreachable(channel: FleetChannel, transactionId: string, triggeringId: string | undefined, reason: string): void {
    this.engine.receive(
      {
        protocol: ['JSTP', '0.5'],
        method: 'ANSWER',
        token: [],
        resource: [502, transactionId, triggeringId ?? randomUUID()],
        timestamp: Date.now(),
        body: { reason },
      },
      channel,
    );
  }

  private publishEvent(dispatch: Dispatch): void {
    // No headers: the receiver tells a second copy by its subscription (FleetBinds.takes),
    // and neither side pays for encoding or decoding them on every event.
    this.link.publish(eventSubject(this.name, dispatch.method, dispatch.resource!), serializeDispatch(dispatch));
  }

  private event(message: Msg, via: string): void {
    const subject = message.subject;
    const gateway = gatewayOfEventSubject(subject);
    if (gateway === undefined) return;
    // Decoded only when there are any: the store's ids of a `nats:` uplink's events.
    const numbered = message.headers?.get(SEQUENCE);
    if (numbered) {
      const [boot, seqText] = numbered.split('.');
      const seq = Number(seqText);
      const last = this.lastEvent.get(gateway);
      // A replay, or the same event through a second matching subscription.
      if (last && last.boot === boot && seq <= last.seq) return;
      if (boot && Number.isFinite(seq)) this.lastEvent.set(gateway, { boot, seq });
    } else if (!this.binds.takes(via, subject)) {
      return;
    }
    // The resource gets its fleet prefix in the text itself, which is then parsed: the
    // engine can relay that very text to subscribers (no second encoding on fan-out).
    // Only the first `"resource":[` can be the header: in a string it would read `\"resource\":[`,
    // and a nested key comes after the header, which a gateway writes before the body.
    const original = message.string();
    const at = original.indexOf('"resource":[');
    if (at === -1) return;
    const text = `${original.slice(0, at)}"resource":["fleet",${JSON.stringify(gateway)},${original.slice(at + 12)}`;
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    this.engine.receive(raw, this.channel('events', gateway), oneLine(text) ? text : undefined);
  }

  private heard(message: Msg): void {
    let beat: Heartbeat;
    try {
      beat = JSON.parse(message.string()) as Heartbeat;
    } catch {
      return;
    }
    if (typeof beat.name !== 'string' || beat.name === this.name) return;
    const change = this.members.heard(beat);
    if (!change) return;
    if (change.change === 'left') this.gone(change.member);
    else this.announce(change.member);
  }

  private sweep(): void {
    for (const member of this.members.sweep()) this.gone(member);
  }

  private gone(member: Member): void {
    this.logger.info({ gateway: member.name }, 'fleet member offline');
    // What waits on it is answered 502; what it bound here is released.
    for (const channel of this.channels.values()) {
      if (channel.kind !== 'service' && channel.target === member.name) this.engine.detach(channel);
    }
    this.announce(member);
  }

  private announce(member: Member): void {
    if (member.online) this.logger.info({ gateway: member.name }, 'fleet member online');
    if (!this.engine.isClosed) {
      this.engine.emit('PATCH', ['fleet', member.name], { online: member.online, devices: member.devices, saturation: member.saturation, leases: member.leases ?? [], at: member.lastSeen });
    }
  }

  private beat(online: boolean): void {
    this.link.publish(heartbeatSubject(this.name), JSON.stringify(this.self(online)));
  }

  private self(online: boolean): Heartbeat {
    const described = this.describe();
    return { name: this.name, boot: this.boot, at: Date.now(), online: online && this.link.connected, ...described, saturation: this.level, services: this.config.services };
  }

  private channel(kind: ChannelKind, target: string, service?: string): FleetChannel {
    const key = `${kind} ${target} ${service ?? ''}`;
    let channel = this.channels.get(key);
    if (!channel) {
      channel = new FleetChannel(kind, target, this, service);
      this.channels.set(key, channel);
    }
    return channel;
  }
}

function oneLine(text: string): boolean {
  return text.charCodeAt(0) === 0x7b && text.charCodeAt(text.length - 1) === 0x7d && !text.includes('\n');
}

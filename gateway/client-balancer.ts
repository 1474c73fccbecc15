/**
 * The balancing client, `connect({ urls })` of `pasarela/client` (Node and browsers):
 * a link to every member of a cluster, each learned from the members' `["cluster"]`,
 * each member's saturation report kept from its `PATCH ["gateway", "saturation"]`,
 * and every request sent to the member the policy picks (cluster/balance-policy.ts:
 * A58's weights, the power of two choices, slow start for a member that joins).
 * BINDs go to every member, so a subscription sees what any of them publishes.
 *
 * A link that drops reconnects with backoff (the client's own) while the others carry
 * the traffic. A draining member refuses the link's handshake with a redirect: the
 * link is closed, the redirect's members are linked, and the refused one is tried
 * again with backoff until it serves again. A request it refuses (503, code
 * PASARELA_DRAINING: nothing processed it) is sent to another member.
 *
 * Nothing here imports Node modules; the clients it links with come from client.ts.
 */
import type { Client, ClientOptions, ClientRequestOptions } from './client.js';
import { BalancePolicy, type BalancingOptions, type Candidate, type PolicyName } from './cluster/balance-policy.js';
import { CLUSTER_RESOURCE, readChange, readMembers, readRefusal, type MemberInfo } from './cluster/protocol.js';
import { Backoff } from './jstp/backoff.js';
import { createAnswer, type RegularMethod, type ResourceElement } from './jstp/dispatch.js';
import type { EndpointInput, Handler } from './jstp/engine.js';
import { errors, Status } from './jstp/errors.js';
import { silentLogger, type Logger } from './jstp/logger.js';
import { Reply, type Answer } from './jstp/reply.js';
import { randomUUID } from './jstp/uuid.js';
import { readLoad, type Level, type LoadFigures } from './saturation/report.js';
import { RequestMethods } from './jstp/request-methods.js';

export type { BalancingOptions, PolicyName } from './cluster/balance-policy.js';

export interface BalancedOptions extends ClientOptions {
  /** Members to start from; the others are learned from their `["cluster"]`. */
  urls: readonly (string | URL)[];
  /** 'weighted' (default): by the members' reports; 'round-robin': in turn, reports unread. */
  policy?: PolicyName;
  balancing?: BalancingOptions;
  /** The policy's random source, uniform in [0, 1) (default Math.random). */
  random?: () => number;
}

/** Makes one member's client (client.ts hands in its `Client`). */
export type LinkFactory = (url: string, options: ClientOptions) => Client;

export type MemberState = 'linking' | 'ready' | 'draining' | 'refused';

/** A member as the balancer sees it (`members()`). */
export interface BalancedMember {
  /** The member's id in its cluster; its URL until its handshake said. */
  id: string;
  url: string;
  state: MemberState;
  level: Level | undefined;
  utilization: number | undefined;
  /** Its share of new requests now, 0 to 1 (what the policy would give it). */
  weight: number;
  inflight: number;
  /** Requests sent to it so far. */
  sent: number;
  /** It joined while others served: the blackout and the ramp apply. */
  slowStart: boolean;
}

export interface BalancerEvents {
  /** A member was linked, lost, refused or is gone. */
  members: (members: BalancedMember[]) => void;
}

interface Link {
  readonly url: string;
  readonly seed: boolean;
  client: Client | undefined;
  memberId: string | undefined;
  state: MemberState;
  usableSince: number;
  slowStart: boolean;
  load: LoadFigures | undefined;
  receivedAt: number | undefined;
  inflight: number;
  sent: number;
  readonly refusals: Backoff;
  retry: ReturnType<typeof setTimeout> | undefined;
}

interface Binding {
  readonly endpoint: EndpointInput;
  readonly handler: Handler;
  /** Its unbinder on each link's client. */
  readonly unbinders: Map<Link, () => void>;
}

/** Members a balancer links to at most: learning from peers must not open links without end. */
export const MAX_LINKS = 64;
const SATURATION_PATCH = { method: 'PATCH', resource: ['gateway', 'saturation'] } as const;
const CLUSTER_PATCH = { method: 'PATCH', resource: [...CLUSTER_RESOURCE] } as const;

function schemeOf(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}

export class BalancedClient extends RequestMethods {
  private readonly options: BalancedOptions;
  private readonly create: LinkFactory;
  private readonly logger: Logger;
  private readonly policy: BalancePolicy;
  private readonly links = new Map<string, Link>();
  private readonly bindings = new Set<Binding>();
  private readonly listeners = new Set<BalancerEvents['members']>();
  private readonly schemes: readonly string[];
  private waiters: { resolve(): void; reject(error: Error): void }[] = [];
  private closed = false;

  constructor(options: BalancedOptions, create: LinkFactory) {
    super();
    if (options.urls.length === 0) throw errors.config('connect({ urls }) needs at least one URL');
    this.options = options;
    this.create = create;
    this.logger = options.logger ?? silentLogger();
    this.policy = new BalancePolicy(options.policy ?? 'weighted', options.balancing, options.random);
    const urls = options.urls.map((url) => (typeof url === 'string' ? new URL(url).href : url.href));
    // Learned members are reached over what the given URLs use (a page can only open WebSockets).
    this.schemes = [...new Set(urls.map(schemeOf))];
    for (const url of urls) this.addLink(url, true);
  }

  /** Resolves once a member can take requests; rejects if the client closes first. */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(errors.channelClosed('balancing client closed'));
    if (this.usable().length > 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  on(event: 'members', listener: BalancerEvents['members']): () => void {
    if (event === 'members') this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every member known, with its state and the share of new requests it would get now. */
  members(): BalancedMember[] {
    const now = Date.now();
    const links = [...this.links.values()];
    const usable = this.usable();
    const weights = this.policy.name === 'weighted' ? this.policy.weights(usable.map((link) => this.candidate(link)), now) : usable.map(() => 1);
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    return links.map((link) => {
      const index = usable.indexOf(link);
      return {
        id: link.memberId ?? link.url,
        url: link.url,
        state: link.state,
        level: link.load?.level,
        utilization: link.load?.utilization,
        weight: index < 0 || total <= 0 ? 0 : weights[index]! / total,
        inflight: link.inflight,
        sent: link.sent,
        slowStart: link.slowStart,
      };
    });
  }

  /**
   * Sends a request to the member the policy picks. A member that refuses it because
   * it drains did not process it: it goes to another. With no member linked it is
   * answered 502 at once.
   */
  request(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: ClientRequestOptions = {}): Reply {
    const reply = new Reply(randomUUID());
    this.route(reply, method, resource, body, options, new Set());
    return reply;
  }

  /** Fire and forget, to the member the policy picks; dropped while none is linked. */
  emit(method: RegularMethod, resource: ResourceElement[], body?: unknown, options: ClientRequestOptions = {}): void {
    const link = this.pick(new Set());
    if (!link) {
      this.logger.debug({ method, resource }, 'no member linked: emit dropped');
      return;
    }
    link.sent++;
    link.client!.emit(method, resource, body, options);
  }

  /** Binds `handler` on every member, now and as they join; returns the function that unbinds it everywhere. */
  bind(endpoint: EndpointInput, handler: Handler): () => void {
    if (this.closed) throw errors.engineClosed();
    const binding: Binding = { endpoint, handler, unbinders: new Map() };
    this.bindings.add(binding);
    for (const link of this.links.values()) if (link.client) binding.unbinders.set(link, link.client.bind(endpoint, handler));
    return () => {
      if (!this.bindings.delete(binding)) return;
      for (const unbind of binding.unbinders.values()) unbind();
      binding.unbinders.clear();
    };
  }

  /** Closes every link; pending replies fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(errors.channelClosed('balancing client closed'));
    const clients: Client[] = [];
    for (const link of this.links.values()) {
      if (link.retry) clearTimeout(link.retry);
      if (link.client) clients.push(link.client);
      link.client = undefined;
    }
    this.links.clear();
    await Promise.all(clients.map((client) => client.close()));
  }

  // ---- routing ----------------------------------------------------------------------

  private route(reply: Reply, method: RegularMethod, resource: ResourceElement[], body: unknown, options: ClientRequestOptions, tried: Set<Link>): void {
    const link = this.pick(tried);
    if (!link) {
      const reason = tried.size > 0 ? 'every member refused it: they drain' : 'no member is linked';
      const answer = createAnswer(Status.UnreachableHost, reply.transactionId, randomUUID(), { reason });
      reply.accept({ status: Status.UnreachableHost, transactionId: reply.transactionId, triggeringId: undefined, body: answer.body, dispatch: answer });
      reply.end();
      return;
    }
    link.inflight++;
    link.sent++;
    link.client!.request(method, resource, body, options).all().then(
      (answers) => {
        link.inflight--;
        const refused = answers.length === 1 && answers[0]!.status === Status.InvalidHost ? readRefusal(answers[0]!.body) : undefined;
        if (refused !== undefined && !this.closed) {
          this.draining(link, refused);
          tried.add(link);
          this.route(reply, method, resource, body, options, tried);
          return;
        }
        for (const answer of answers) reply.accept(answer as Answer);
        reply.end();
      },
      (error: unknown) => {
        link.inflight--;
        reply.fail(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** Links that can take requests: ready ones, else (all drain) the draining ones, whose answers say why. */
  private usable(): Link[] {
    const linked = [...this.links.values()].filter((link) => link.client?.state === 'open');
    // Plain round robin reads no report: a member that says it drains is left to refuse.
    if (this.policy.name === 'round-robin') return linked.filter((link) => link.state === 'ready' || link.state === 'draining');
    const ready = linked.filter((link) => link.state === 'ready');
    return ready.length > 0 ? ready : linked.filter((link) => link.state === 'draining');
  }

  private pick(tried: ReadonlySet<Link>): Link | undefined {
    const links = this.usable().filter((link) => !tried.has(link));
    const chosen = this.policy.pick(links.map((link) => this.candidate(link)), Date.now());
    return chosen === undefined ? undefined : links.find((link) => link.url === chosen.id);
  }

  private candidate(link: Link): Candidate {
    const candidate: { -readonly [K in keyof Candidate]: Candidate[K] } = { id: link.url, usableSince: link.usableSince, inflight: link.inflight, slowStart: link.slowStart };
    if (link.load && link.receivedAt !== undefined) {
      candidate.load = link.load;
      candidate.receivedAt = link.receivedAt;
    }
    return candidate;
  }

  // ---- links ------------------------------------------------------------------------

  private addLink(url: string, seed: boolean): void {
    if (this.closed || this.links.has(url)) return;
    if (!seed && this.links.size >= MAX_LINKS) {
      this.logger.warn({ url, max: MAX_LINKS }, 'too many members: one more is not linked');
      return;
    }
    const link: Link = {
      url,
      seed,
      client: undefined,
      memberId: undefined,
      state: 'linking',
      usableSince: 0,
      slowStart: false,
      load: undefined,
      receivedAt: undefined,
      inflight: 0,
      sent: 0,
      refusals: new Backoff({ initialMs: 1_000, maxMs: 10_000 }, { where: 'balancing' }),
      retry: undefined,
    };
    this.links.set(url, link);
    this.open(link);
  }

  private open(link: Link): void {
    link.retry = undefined;
    if (this.closed) return;
    const { urls: _urls, policy: _policy, balancing: _balancing, random: _random, ...clientOptions } = this.options;
    let client: Client;
    try {
      client = this.create(link.url, clientOptions);
    } catch (error) {
      this.logger.error({ url: link.url, err: error }, 'cannot link to a member');
      this.links.delete(link.url);
      return;
    }
    link.client = client;
    client.bind(SATURATION_PATCH, (incoming) => this.reported(link, incoming.body));
    client.bind(CLUSTER_PATCH, (incoming) => this.clusterChanged(incoming.body));
    for (const binding of this.bindings) binding.unbinders.set(link, client.bind(binding.endpoint, binding.handler));
    client.on('state', ({ state }) => {
      if (link.client !== client) return;
      if (state === 'open') this.handshake(link, client);
      else if (link.state !== 'refused') {
        link.state = 'linking';
        this.changed();
      }
    });
  }

  /** Asks the member who it is and whom it knows; a draining member refuses with a redirect. */
  private handshake(link: Link, client: Client): void {
    client.get([...CLUSTER_RESOURCE], { balancing: true }).all().then(
      (answers) => {
        if (link.client !== client || this.closed) return;
        const ok = answers.find((answer) => answer.status === Status.Ok);
        const refusal = answers.find((answer) => answer.status === Status.InvalidHost);
        const redirect = refusal ? readRefusal(refusal.body) : undefined;
        if (redirect !== undefined) {
          this.refused(link, redirect);
          return;
        }
        // No cluster plugin there (404), or an engine that never answers: a member of its own.
        const [self, ...others] = (ok && readMembers(ok.body)) || [];
        if (self && this.duplicate(link, self.id)) return;
        link.memberId = self?.id ?? link.url;
        this.serve(link);
        for (const member of others) this.learn(member);
      },
      () => undefined,
    );
  }

  /**
   * Another link reaches the same member (two URLs of one instance): one goes, the
   * learned one rather than a given one. True when `link` went.
   */
  private duplicate(link: Link, id: string): boolean {
    const other = [...this.links.values()].find((candidate) => candidate !== link && candidate.memberId === id);
    if (!other) return false;
    const [kept, dropped] = link.seed && !other.seed ? [link, other] : [other, link];
    this.logger.debug({ member: id, kept: kept.url, dropped: dropped.url }, 'two URLs reach one member: one link kept');
    this.forget(dropped);
    return dropped === link;
  }

  private serve(link: Link): void {
    const now = Date.now();
    const { blackoutMs } = this.policy.options;
    // Slow start only for a member joining a balancer that already serves (not for the first links).
    link.slowStart = [...this.links.values()].some((other) => other !== link && (other.state === 'ready' || other.state === 'draining') && now - other.usableSince >= blackoutMs);
    link.usableSince = now;
    link.state = link.load?.level === 'critical' ? 'draining' : 'ready';
    link.refusals.succeeded();
    this.logger.info({ url: link.url, member: link.memberId, slowStart: link.slowStart }, 'member linked');
    this.changed();
    if (this.usable().length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
  }

  /** A draining member refused the link: close it, link the members it names, try it again later. */
  private refused(link: Link, redirect: readonly string[]): void {
    link.state = 'refused';
    link.load = undefined;
    const client = link.client;
    link.client = undefined;
    for (const binding of this.bindings) binding.unbinders.delete(link);
    void client?.close();
    const delay = link.refusals.next();
    this.logger.info({ url: link.url, redirect, retryInMs: Math.round(delay) }, 'member drains: link refused');
    for (const url of redirect) this.learn({ id: url, urls: [url] });
    link.retry = setTimeout(() => this.open(link), delay);
    this.changed();
  }

  /** A request was refused: the member drains, whatever its last report said. */
  private draining(link: Link, redirect: readonly string[]): void {
    if (link.state === 'ready') {
      link.state = 'draining';
      this.changed();
    }
    for (const url of redirect) this.learn({ id: url, urls: [url] });
  }

  private reported(link: Link, body: unknown): void {
    const load = readLoad(body);
    if (!load) return;
    link.load = load;
    link.receivedAt = Date.now();
    const state = load.level === 'critical' ? 'draining' : 'ready';
    if ((link.state === 'ready' || link.state === 'draining') && link.state !== state) {
      link.state = state;
      this.changed();
    }
  }

  private clusterChanged(body: unknown): void {
    const change = readChange(body);
    if (!change) return;
    if (change.event === 'left') {
      const link = [...this.links.values()].find((candidate) => candidate.memberId === change.member.id);
      // Given URLs stay: they are where the application said its service is.
      if (link && !link.seed) this.forget(link);
      return;
    }
    for (const member of [change.member, ...change.members]) this.learn(member);
  }

  /** Links a member not linked yet, at a URL of the schemes the given URLs use. */
  private learn(member: MemberInfo): void {
    if (this.closed) return;
    if ([...this.links.values()].some((link) => link.memberId === member.id)) return;
    const url = this.schemes.map((scheme) => member.urls.find((candidate) => schemeOf(candidate) === scheme)).find((candidate) => candidate !== undefined);
    if (url === undefined) return;
    const href = new URL(url).href;
    if (this.links.has(href)) return;
    this.addLink(href, false);
  }

  private forget(link: Link): void {
    this.links.delete(link.url);
    if (link.retry) clearTimeout(link.retry);
    for (const binding of this.bindings) binding.unbinders.delete(link);
    void link.client?.close();
    link.client = undefined;
    this.changed();
  }

  private changed(): void {
    if (this.listeners.size === 0) return;
    const members = this.members();
    for (const listener of [...this.listeners]) {
      try {
        listener(members);
      } catch (error) {
        this.logger.error({ err: error }, 'members listener failed');
      }
    }
  }
}

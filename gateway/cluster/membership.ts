/**
 * The members of a cluster as one instance knows them: a link (a client) to each,
 * its last saturation report, and who joined or left. An instance announces itself
 * to the URLs it joins and to every member it learns of; a member whose link stays
 * down for `leaveAfterMs`, or that says it leaves, is gone.
 */
import { Client, type ClientOptions } from '../client.js';
import type { Logger } from '../jstp/logger.js';
import type { SaturationReport } from '../saturation/report.js';
import { CLUSTER_RESOURCE, MEMBERS_RESOURCE, readChange, readMembers, type ClusterEvent, type MemberInfo, type MemberView } from './protocol.js';

export interface MembershipOptions {
  cluster: string;
  self: MemberInfo;
  leaveAfterMs: number;
  logger: Logger;
  /** A member joined or left. */
  onChange(event: ClusterEvent, member: MemberInfo): void;
  /** For the links to members (reconnect backoff, timeouts). */
  client?: ClientOptions;
}

interface Link {
  readonly url: string;
  readonly client: Client;
  /** The member it reaches, once its answer said. */
  memberId: string | undefined;
  readonly seed: boolean;
}

interface Member {
  info: MemberInfo;
  link: Link | undefined;
  report: SaturationReport | undefined;
  /** When the link went down; undefined while it is up. */
  downSince: number | undefined;
}

const SATURATION_PATCH = { method: 'PATCH', resource: ['gateway', 'saturation'] } as const;
const CLUSTER_PATCH = { method: 'PATCH', resource: [...CLUSTER_RESOURCE] } as const;
const LEAVE_TIMEOUT_MS = 500;
/** A peer that announces members without end must not make this instance open links without end. */
export const MAX_MEMBERS = 64;

/** The URL to link to a member at: TCP when it has one (members run in Node). */
function linkUrl(info: MemberInfo): string | undefined {
  return info.urls.find((url) => url.startsWith('tcp:')) ?? info.urls[0];
}

export class Membership {
  private readonly options: MembershipOptions;
  private readonly logger: Logger;
  private readonly members = new Map<string, Member>();
  /** Seed URLs, and the member each turned out to be (or undefined while unknown). */
  private readonly seeds = new Map<string, string | undefined>();
  private readonly links = new Set<Link>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(options: MembershipOptions) {
    this.options = options;
    this.logger = options.logger;
    this.sweeper = setInterval(() => this.sweep(), Math.min(1_000, options.leaveAfterMs / 2));
    this.sweeper.unref();
  }

  /** Announces this instance to each URL (again whenever a link comes back). */
  join(urls: readonly string[]): void {
    for (const url of urls) {
      if (this.seeds.has(url)) continue;
      this.seeds.set(url, undefined);
      this.link(url, true);
    }
  }

  /** A member announced itself (`POST ["cluster", "members"]`). */
  announced(info: MemberInfo): void {
    if (info.id === this.options.self.id || this.closed) return;
    const member = this.members.get(info.id);
    if (member) {
      member.info = info;
      if (!member.link) this.linkMember(member);
      return;
    }
    this.add(info);
  }

  /** A member said it leaves (`DELETE ["cluster", "members", id]`). */
  leaving(id: string): boolean {
    const member = this.members.get(id);
    if (!member) return false;
    this.remove(member, 'it left');
    return true;
  }

  /** Every member but this instance, with its last report. */
  view(): MemberView[] {
    return [...this.members.values()].map((member) => {
      const view: MemberView = { ...member.info, linked: member.link !== undefined && member.downSince === undefined && member.link.client.state === 'open' };
      if (member.report) {
        view.level = member.report.level;
        view.report = member.report;
      }
      return view;
    });
  }

  /** Members whose link is up and whose last report is fresh and not critical: where to send work instead. */
  serving(now = Date.now()): MemberInfo[] {
    return [...this.members.values()]
      .filter((member) => {
        const report = member.report;
        const fresh = report !== undefined && now - report.at <= 3 * report.periodS * 1000;
        return member.link?.client.state === 'open' && fresh && report.level !== 'critical';
      })
      .map((member) => member.info);
  }

  /** Tells every member this instance leaves, then closes the links. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    const self = this.options.self.id;
    await Promise.all(
      [...this.members.values()].map(async (member) => {
        const client = member.link?.client;
        if (!client || client.state !== 'open') return;
        const leave = client.delete([...MEMBERS_RESOURCE, self]).then(
          () => undefined,
          () => undefined,
        );
        await Promise.race([leave, new Promise((resolve) => setTimeout(resolve, LEAVE_TIMEOUT_MS).unref())]);
      }),
    );
    await Promise.all([...this.links].map((link) => link.client.close()));
    this.links.clear();
  }

  // ---- links ------------------------------------------------------------------------

  private link(url: string, seed: boolean): Link | undefined {
    let client: Client;
    try {
      client = new Client(url, { reconnect: { initialMs: 250, maxMs: 5_000 }, answerTimeoutMs: 5_000, ...this.options.client, logger: this.logger.child({ member: url }) });
    } catch (error) {
      this.logger.error({ url, err: error }, 'cannot link to a member');
      return undefined;
    }
    const link: Link = { url, client, memberId: undefined, seed };
    this.links.add(link);
    client.bind(SATURATION_PATCH, (incoming) => {
      const member = this.memberOf(link);
      if (member && typeof incoming.body === 'object' && incoming.body !== null) member.report = incoming.body as SaturationReport;
    });
    client.bind(CLUSTER_PATCH, (incoming) => {
      if (!this.memberOf(link)) return;
      const change = readChange(incoming.body);
      if (!change) return;
      // What another member says of a third one is only a hint: links decide who is gone.
      for (const info of [change.member, ...change.members]) if (change.event !== 'left') this.announced(info);
    });
    client.on('state', ({ state }) => {
      const member = this.memberOf(link);
      if (state === 'open') {
        if (member) member.downSince = undefined;
        this.announce(link);
      } else if (member && member.downSince === undefined) {
        member.downSince = Date.now();
      }
    });
    return link;
  }

  /** POSTs this instance to the link's member; its answer says who it is and whom it knows. */
  private announce(link: Link): void {
    const { cluster, self } = this.options;
    link.client.post([...MEMBERS_RESOURCE], { cluster, member: self }).then(
      (answer) => this.answered(link, answer.body),
      (error: unknown) => {
        const status = (error as { status?: number }).status;
        // 4xx: that instance will not have us (another cluster's name): retrying cannot help.
        if (status !== undefined && status >= 400 && status < 500) {
          this.logger.error({ url: link.url, status, answers: (error as { answers?: { body?: unknown }[] }).answers?.map((a) => a.body) }, 'a member refused this instance');
          this.drop(link);
        } else {
          this.logger.debug({ url: link.url, err: error }, 'announcing to a member failed; it is retried when the link comes back');
        }
      },
    );
  }

  private answered(link: Link, body: unknown): void {
    if (this.closed || !this.links.has(link)) return;
    const [remote, ...others] = readMembers(body) ?? [];
    if (!remote) {
      this.logger.warn({ url: link.url }, 'a member answered the announcement with no view');
      return;
    }
    if (link.seed) this.seeds.set(link.url, remote.id);
    const self = this.options.self.id;
    if (remote.id === self) {
      this.logger.debug({ url: link.url }, 'a join URL is this instance itself');
      this.drop(link);
    } else if (link.memberId === undefined) {
      const member = this.members.get(remote.id);
      if (member?.link && member.link !== link) {
        // Another link already reaches it.
        this.drop(link);
      } else if (member) {
        member.link = link;
        member.info = remote;
        link.memberId = remote.id;
      } else {
        link.memberId = remote.id;
        this.add(remote, link);
      }
    }
    for (const info of others) this.announced(info);
  }

  private add(info: MemberInfo, link?: Link): void {
    if (this.members.size >= MAX_MEMBERS) {
      this.logger.warn({ member: info.id, max: MAX_MEMBERS }, 'too many members: one more is ignored');
      if (link) this.drop(link);
      return;
    }
    const member: Member = { info, link, report: undefined, downSince: undefined };
    this.members.set(info.id, member);
    if (!link) this.linkMember(member);
    this.logger.info({ member: info.id, urls: info.urls }, 'member joined');
    this.options.onChange('joined', info);
  }

  private linkMember(member: Member): void {
    const url = linkUrl(member.info);
    if (url === undefined) return;
    const link = this.link(url, false);
    if (!link) return;
    link.memberId = member.info.id;
    member.link = link;
    member.downSince = Date.now();
  }

  private memberOf(link: Link): Member | undefined {
    return link.memberId === undefined ? undefined : this.members.get(link.memberId);
  }

  private remove(member: Member, why: string): void {
    this.members.delete(member.info.id);
    if (member.link) this.drop(member.link);
    this.logger.info({ member: member.info.id, why }, 'member left');
    this.options.onChange('left', member.info);
    // A join URL that led to it is tried again, so the member is found when it comes back.
    for (const [url, id] of this.seeds) {
      if (id !== member.info.id || this.closed) continue;
      if ([...this.links].some((link) => link.url === url)) continue;
      this.seeds.set(url, undefined);
      this.link(url, true);
    }
  }

  private drop(link: Link): void {
    this.links.delete(link);
    const member = this.memberOf(link);
    if (member?.link === link) member.link = undefined;
    void link.client.close();
  }

  /** Members whose link stayed down too long have left. */
  private sweep(): void {
    const now = Date.now();
    for (const member of [...this.members.values()]) {
      if (member.downSince !== undefined && now - member.downSince >= this.options.leaveAfterMs) this.remove(member, 'unreachable');
    }
  }
}

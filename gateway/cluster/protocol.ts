/**
 * What members and balancing clients say to each other, as JSTP resources, and the
 * readers of those bodies when they come over the wire. No Node imports: the
 * balancing client (browsers too) reads them.
 *
 * - `POST ["cluster", "members"]` `{ cluster, member }`: an instance announces itself;
 *   the answer is the cluster's view (below), so it learns the other members.
 * - `DELETE ["cluster", "members", id]`: a member leaves (on a clean stop).
 * - `GET ["cluster"]`: the view, `{ cluster, self, members }`, each member with its
 *   last report. With the body `{ balancing: true }` it is a balancing client's
 *   handshake: a draining instance refuses it with 503 and a redirect.
 * - `PATCH ["cluster"]`: to subscribers on joins, leaves, and drain starts and ends.
 */
import { ErrorCode } from '../jstp/errors.js';
import type { SaturationReport } from '../saturation/report.js';
import { LEVELS, type Level } from '../saturation/report.js';

export const CLUSTER_RESOURCE = ['cluster'] as const;
export const MEMBERS_RESOURCE = ['cluster', 'members'] as const;

export interface MemberInfo {
  id: string;
  /** Where it listens: `tcp://`, `ws://`, `wss://`. */
  urls: string[];
}

export interface MemberView extends MemberInfo {
  /** Its level from its last report; absent before one came. */
  level?: Level;
  /** For members other than the answering one: whether its link is up now. */
  linked?: boolean;
  report?: SaturationReport;
}

export interface ClusterView {
  cluster: string;
  self: MemberView & { draining: boolean };
  members: MemberView[];
}

export type ClusterEvent = 'joined' | 'left' | 'draining' | 'serving';

export interface ClusterChange {
  cluster: string;
  event: ClusterEvent;
  member: MemberInfo;
  /** Every member known after the change, the sender included. */
  members: (MemberInfo & { level?: Level })[];
}

/** The body of a draining instance's refusal: the members to use instead (MQTT 5's Server Reference). */
export interface DrainRefusal {
  reason: string;
  code: typeof ErrorCode.Draining;
  redirect: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Member URLs: strings a URL parser takes, with a scheme a member listens on; at most 8. */
function readUrls(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const urls: string[] = [];
  for (const item of value.slice(0, 8)) {
    if (typeof item !== 'string' || item.length > 300) continue;
    try {
      if (['tcp:', 'ws:', 'wss:'].includes(new URL(item).protocol)) urls.push(item);
    } catch {
      // Not a URL: left out.
    }
  }
  return urls;
}

export function readMemberInfo(value: unknown): MemberInfo | undefined {
  if (!isObject(value) || typeof value.id !== 'string' || value.id.length === 0 || value.id.length > 200) return undefined;
  const urls = readUrls(value.urls);
  // A member nobody can reach is no member.
  return urls && urls.length > 0 ? { id: value.id, urls } : undefined;
}

function readLevel(value: unknown): Level | undefined {
  return typeof value === 'string' && (LEVELS as readonly string[]).includes(value) ? (value as Level) : undefined;
}

/** The members a view or a change lists (the answering member first when it is a view). */
export function readMembers(body: unknown): (MemberInfo & { level?: Level })[] | undefined {
  if (!isObject(body)) return undefined;
  const listed: unknown[] = [];
  if (body.self !== undefined) listed.push(body.self);
  if (Array.isArray(body.members)) listed.push(...body.members.slice(0, 256));
  const members: (MemberInfo & { level?: Level })[] = [];
  for (const item of listed) {
    const info = readMemberInfo(item);
    if (!info) continue;
    const level = readLevel((item as Record<string, unknown>).level);
    members.push(level ? { ...info, level } : info);
  }
  return members;
}

/** The redirect of a draining instance's refusal; undefined when the body is not one. */
export function readRefusal(body: unknown): string[] | undefined {
  if (!isObject(body) || body.code !== ErrorCode.Draining) return undefined;
  return readUrls(body.redirect) ?? [];
}

/** The change a `PATCH ["cluster"]` carries. */
export function readChange(body: unknown): { event: ClusterEvent; member: MemberInfo; members: (MemberInfo & { level?: Level })[] } | undefined {
  if (!isObject(body)) return undefined;
  const event = body.event;
  if (event !== 'joined' && event !== 'left' && event !== 'draining' && event !== 'serving') return undefined;
  const member = readMemberInfo(body.member);
  if (!member) return undefined;
  return { event, member, members: readMembers({ members: body.members }) ?? [] };
}

/**
 * Which parts of a dispatch a seal hides (docs/spec/security.md, "Sealed
 * dispatches"): the headers engines need on the way stay outside (protocol, token,
 * host, via), everything else goes inside, in compact CBOR. Two forms:
 * - full: method, resource and timestamp go inside too; the outside reads
 *   POST ["sealed"] at timestamp 0 (requests, and a dispatch to one known recipient);
 *   an ANSWER keeps its transaction and shows status 200 (100 and 101 as they are);
 * - visible: method, resource and timestamp stay outside, so engines can match BINDs
 *   (a PATCH or an event fanned out to subscribers).
 * The outside's method, target and timestamp are the external_aad, so none of them
 * can be changed without the seal failing. Browser-safe.
 */
import { decodeDispatch, encodeDispatch } from '../jstp/codec/cbor.js';
import { CborWriter } from '../jstp/codec/cbor-writer.js';
import { METHOD_CODES } from '../jstp/codec/method-codes.js';
import { validateDispatch, type Dispatch } from '../jstp/dispatch.js';
import { Status } from '../jstp/errors.js';

export const SEALED_HEADER = 'sealed';
/** The resource a sealed request shows on the way. */
export const SEALED_RESOURCE: readonly string[] = Object.freeze(['sealed']);
export type SealForm = 'full' | 'visible';

/** Headers that relays rewrite or read: they stay outside. */
const HOP_HEADERS: readonly string[] = ['protocol', 'token', 'host', 'via'];
const SHOWN_HEADERS: readonly string[] = ['method', 'resource', 'timestamp'];

/** The status a sealed answer shows: 100 and 101 steer the engines on the way, the rest is 200. */
export function outerStatus(status: number): number {
  return status === Status.Acknowledge || status === Status.NoMoreAnswers ? status : Status.Ok;
}

export interface SplitDispatch {
  /** The dispatch relays see, without its `sealed` header yet. */
  readonly outer: Dispatch;
  /** The compact CBOR of what goes inside. */
  readonly plaintext: Uint8Array;
}

/** Splits `dispatch` for sealing in `form` (an ANSWER is always full). */
export function splitForSealing(dispatch: Dispatch, form: SealForm): SplitDispatch {
  const full = form === 'full' || dispatch.method === 'ANSWER';
  const outer: Dispatch = full
    ? dispatch.method === 'ANSWER'
      ? { protocol: dispatch.protocol, method: 'ANSWER', resource: [outerStatus(Number(dispatch.resource![0])), ...dispatch.resource!.slice(1)], timestamp: 0 }
      : { protocol: dispatch.protocol, method: 'POST', resource: [...SEALED_RESOURCE], timestamp: 0 }
    : { protocol: dispatch.protocol, method: dispatch.method, resource: dispatch.resource!, timestamp: dispatch.timestamp };
  const inner: Record<string, unknown> = {};
  for (const key of Object.keys(dispatch)) {
    const value = dispatch[key];
    if (value === undefined) continue;
    if (HOP_HEADERS.includes(key)) {
      if (key !== 'protocol') outer[key] = value;
      continue;
    }
    if (!full && SHOWN_HEADERS.includes(key)) continue;
    inner[key] = key === 'resource' && dispatch.method === 'ANSWER' ? [dispatch.resource![0]] : value;
  }
  return { outer, plaintext: encodeDispatch(inner as Dispatch).slice() };
}

const aadWriter = new CborWriter();

/**
 * The external_aad: the deterministic CBOR of [method, target, timestamp] as the
 * outside shows them (target: the resource, or an ANSWER's status), with the list of
 * further recipients appended when there is one.
 */
export function externalAad(outer: Dispatch, more?: Uint8Array): Uint8Array {
  const w = aadWriter;
  w.begin();
  try {
    w.head(4, more ? 4 : 3);
    const code = METHOD_CODES[outer.method];
    if (code === undefined) w.text(outer.method);
    else w.head(0, code);
    if (outer.method === 'ANSWER') w.value(outer.resource?.[0], 1);
    else w.value(outer.resource, 1);
    w.value(outer.timestamp, 1);
    if (more) w.raw(more, 0, more.length);
    return w.finish().slice();
  } catch (error) {
    w.abandon();
    throw error;
  }
}

function sameResource(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  return a !== undefined && a.length === b.length && a.every((element, i) => element === b[i]);
}

export type Merged = { ok: true; dispatch: Dispatch } | { ok: false; reason: string };

/** The dispatch a seal held: the outside's hop headers with what was inside; validated strictly. */
export function mergeOpened(outer: Dispatch, plaintext: Uint8Array): Merged {
  let inner: Record<string, unknown>;
  try {
    inner = decodeDispatch(plaintext);
  } catch (error) {
    return { ok: false, reason: `the sealed content is not a compact CBOR map: ${(error as Error).message}` };
  }
  for (const key of [...HOP_HEADERS, SEALED_HEADER]) {
    if (Object.hasOwn(inner, key)) return { ok: false, reason: `the sealed content carries ${key}, which belongs outside` };
  }
  const full = inner.method !== undefined;
  if (full) {
    const fullOuter = outer.method === 'ANSWER' ? inner.method === 'ANSWER' : outer.method === 'POST' && sameResource(outer.resource, SEALED_RESOURCE) && outer.timestamp === 0;
    if (!fullOuter) return { ok: false, reason: 'a seal holding the method must show POST ["sealed"] at timestamp 0 (or its ANSWER)' };
  } else if (inner.resource !== undefined || inner.timestamp !== undefined || inner.endpoint !== undefined || outer.method === 'ANSWER') {
    return { ok: false, reason: 'a seal without the method holds neither resource nor timestamp' };
  }
  const raw: Record<string, unknown> = { protocol: outer.protocol };
  for (const key of HOP_HEADERS) if (key !== 'protocol' && outer[key] !== undefined) raw[key] = outer[key];
  if (!full) {
    raw.method = outer.method;
    raw.resource = outer.resource;
    raw.timestamp = outer.timestamp;
  }
  for (const key of Object.keys(inner)) raw[key] = inner[key];
  if (outer.method === 'ANSWER') {
    const status = Array.isArray(inner.resource) && inner.resource.length === 1 ? inner.resource[0] : undefined;
    if (typeof status !== 'number' || outerStatus(status) !== outer.resource![0]) return { ok: false, reason: 'a sealed answer holds its status, which the outside shows as 200, 100 or 101' };
    raw.resource = [status, ...outer.resource!.slice(1)];
  }
  const result = validateDispatch(raw, 'strict');
  if (!result.ok) return { ok: false, reason: `the sealed content is not a valid dispatch: ${result.reason}` };
  return { ok: true, dispatch: result.dispatch };
}

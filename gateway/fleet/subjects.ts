/**
 * JSTP names as NATS subjects. A gateway's inbox is `pasarela.gw.<name>`; its events
 * are `pasarela.ev.<name>.<METHOD>.<resource...>`, its heartbeats
 * `pasarela.hb.<name>`. Subject tokens may not hold `.`, `*`, `>` or white space, so
 * every element is escaped: characters outside `[A-Za-z0-9_-]` become `~` and two hex
 * digits per UTF-8 byte, and an empty element is a lone `~`. Pure: no NATS here.
 */
import type { EndpointMethod } from '../jstp/dispatch.js';

export const SUBJECT_ROOT = 'pasarela';

const SAFE = /^[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One JSTP element (a gateway name, a resource element) as one subject token. */
export function token(element: string | number): string {
  const text = String(element);
  if (text.length === 0) return '~';
  if (SAFE.test(text)) return text;
  let out = '';
  for (const char of text) {
    if (SAFE.test(char)) out += char;
    else for (const byte of encoder.encode(char)) out += `~${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The element a token stands for (`token` read back). */
export function untoken(text: string): string {
  if (text === '~') return '';
  if (!text.includes('~')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '~') {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i));
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}

export function inboxSubject(gateway: string): string {
  return `${SUBJECT_ROOT}.gw.${token(gateway)}`;
}

export function heartbeatSubject(gateway: string): string {
  return `${SUBJECT_ROOT}.hb.${token(gateway)}`;
}

export const HEARTBEATS = `${SUBJECT_ROOT}.hb.*`;

/** Replicated services: the queue group subject of a service's resource prefix. */
export function serviceSubject(service: string): string {
  return `${SUBJECT_ROOT}.svc.${token(service)}`;
}

export function eventSubject(gateway: string, method: string, resource: readonly (string | number)[]): string {
  return [SUBJECT_ROOT, 'ev', token(gateway), method, ...resource.map(token)].join('.');
}

/** The gateway of an event subject (`pasarela.ev.<gateway>.<METHOD>.<resource...>`); undefined for anything else. */
export function gatewayOfEventSubject(subject: string): string | undefined {
  // Read by hand, not split: this runs for every event that arrives.
  if (!subject.startsWith(EVENT_PREFIX)) return undefined;
  const end = subject.indexOf('.', EVENT_PREFIX.length);
  if (end === -1 || end === EVENT_PREFIX.length || subject.indexOf('.', end + 1) === -1) return undefined;
  return untoken(subject.slice(EVENT_PREFIX.length, end));
}

const EVENT_PREFIX = `${SUBJECT_ROOT}.ev.`;

/** Whether a subscription `pattern` (NATS wildcards `*` and a final `>`) takes the subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const wanted = pattern.split('.');
  const tokens = subject.split('.');
  for (let i = 0; i < wanted.length; i++) {
    const want = wanted[i]!;
    if (want === '>') return tokens.length > i;
    if (i >= tokens.length || (want !== '*' && want !== tokens[i])) return false;
  }
  return wanted.length === tokens.length;
}

/**
 * The subjects that carry every event a fleet pattern
 * `["fleet", gateway, ...resource]` can match: `*` and `:name` become `*`, `...` ends
 * the subject with `>` (and, since `...` also matches nothing, with the subject
 * before it too). What the subject cannot say (a literal after `...`, a capture after
 * it) is filtered on arrival by the engine's own matching.
 * `pattern` is a normalized endpoint pattern (escapes as in endpoint.ts).
 */
export function subjectsForPattern(method: EndpointMethod, pattern: readonly string[]): string[] {
  if (pattern[0] !== 'fleet') return [];
  const tokens: string[] = [SUBJECT_ROOT, 'ev'];
  const elements = pattern.slice(1);
  // The gateway comes first in the pattern, the method first in the subject.
  const head = elements[0];
  if (head === undefined) return [];
  if (head === '...') return [`${SUBJECT_ROOT}.ev.>`];
  tokens.push(wildcardOrToken(head));
  tokens.push(method === '*' ? '*' : method);
  const subjects: string[] = [];
  for (const element of elements.slice(1)) {
    if (element === '...') {
      // An event has at least one resource element after the method.
      if (tokens.length > 4) subjects.push(tokens.join('.'));
      subjects.push([...tokens, '>'].join('.'));
      return subjects;
    }
    tokens.push(wildcardOrToken(element));
  }
  // An event has a resource: a pattern with no element after the gateway matches none.
  return tokens.length > 4 ? [tokens.join('.')] : [];
}

function wildcardOrToken(element: string): string {
  if (element === '*' || (element.startsWith(':') && element.length > 1)) return '*';
  return token(element.startsWith('\\') ? element.slice(1) : element);
}

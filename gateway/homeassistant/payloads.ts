/**
 * Values as MQTT payloads for Home Assistant, and back: a state is the value's text
 * (`true`/`false`, a number, a string as it is, JSON for the rest); a command is read
 * by the schema of what it sets. Pure.
 */
import type { ValueSchema } from '../../drivers/driver.js';
import { statusText } from '../jstp/errors.js';

/** What switches and binary sensors are told to expect (and send). */
export const ON = 'true';
export const OFF = 'false';

/** Home Assistant reads `None` as "no value" (unknown). */
export const NONE = 'None';

/** The state payload of a value. */
export function statePayload(value: unknown): string {
  if (value === null || value === undefined) return NONE;
  if (typeof value === 'boolean') return value ? ON : OFF;
  if (typeof value === 'number' || typeof value === 'string') return String(value);
  return JSON.stringify(value);
}

export type Decoded = { ok: true; value: unknown } | { ok: false; error: string };

const TRUE = new Set(['true', 'on', '1']);
const FALSE = new Set(['false', 'off', '0']);

/** The value a command payload stands for, by the schema of what it sets. */
export function decodeCommand(text: string, schema: ValueSchema): Decoded {
  switch (schema.type) {
    case 'boolean': {
      const word = text.trim().toLowerCase();
      if (TRUE.has(word)) return { ok: true, value: true };
      if (FALSE.has(word)) return { ok: true, value: false };
      return { ok: false, error: `expected true or false, got ${JSON.stringify(text)}` };
    }
    case 'number':
    case 'integer': {
      const value = text.trim() === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(value)) return { ok: false, error: `expected a number, got ${JSON.stringify(text)}` };
      if (schema.type === 'integer' && !Number.isInteger(value)) return { ok: false, error: `expected an integer, got ${JSON.stringify(text)}` };
      return { ok: true, value };
    }
    case 'string':
      return { ok: true, value: text };
    default:
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch {
        return { ok: false, error: `expected JSON, got ${JSON.stringify(text)}` };
      }
  }
}

/** What a command came to, on its `result` topic: the JSTP answer in short, and `outcome` for Home Assistant to show. */
export interface CommandResult {
  status: number;
  ok: boolean;
  outcome: string;
  body?: unknown;
  error?: string;
  at: number;
}

/** Home Assistant keeps at most 255 characters of a state. */
const STATE_MAX = 255;

export function commandResult(status: number, body: unknown, at: number = Date.now()): CommandResult {
  const ok = status >= 200 && status < 300;
  const text = `${status} ${statusText[status] ?? ''}`.trim();
  const error = ok ? undefined : errorOf(body);
  const outcome = error === undefined ? text : `${text}: ${error}`;
  return {
    status,
    ok,
    outcome: outcome.length > STATE_MAX ? `${outcome.slice(0, STATE_MAX - 1)}…` : outcome,
    ...(body === undefined ? {} : { body }),
    ...(error === undefined ? {} : { error }),
    at,
  };
}

function errorOf(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  const error = (body as { error?: unknown } | null)?.error;
  return typeof error === 'string' ? error : undefined;
}

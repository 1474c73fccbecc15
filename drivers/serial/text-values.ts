/**
 * Text <-> values for line protocols: what a reply line's capture groups mean, read
 * through the property's schema (or its converter), and how a value is written in a
 * command. `1`/`0` stand for booleans unless a converter says otherwise.
 */
import type { Converter } from '../converters.js';
import type { ValueSchema } from '../driver.js';
import { errors } from '../../gateway/jstp/errors.js';
import { badReply } from './link-errors.js';

export interface TextRule {
  schema?: ValueSchema | undefined;
  converter?: Converter | undefined;
  /** Device words to values, applied first, e.g. `{ Run: 'moving' }`. */
  map?: Readonly<Record<string, string | number | boolean>> | undefined;
}

export function valueFromText(rule: TextRule, text: string): unknown {
  if (rule.map && Object.hasOwn(rule.map, text)) return rule.map[text];
  if (rule.converter) return rule.converter.decode(text);
  switch (rule.schema?.type) {
    case 'number':
    case 'integer': {
      const value = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(value) || (rule.schema.type === 'integer' && !Number.isInteger(value))) {
        throw badReply(`expected ${rule.schema.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`);
      }
      return value;
    }
    case 'boolean': {
      const word = text.trim().toLowerCase();
      if (word === '1' || word === 'true' || word === 'on') return true;
      if (word === '0' || word === 'false' || word === 'off') return false;
      throw badReply(`expected a boolean, got ${JSON.stringify(text)}`);
    }
    default:
      return text;
  }
}

/** An object from named capture groups, each read through its field's schema; empty groups are left out. */
export function objectFromGroups(schema: ValueSchema | undefined, groups: Readonly<Record<string, string | undefined>>, fields?: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const pairs: [string, string][] = fields ? Object.entries(fields) : Object.keys(groups).map((key) => [key, key]);
  for (const [field, group] of pairs) {
    const text = groups[group];
    if (text === undefined || text === '') continue;
    out[field] = valueFromText({ schema: schema?.properties?.[field] }, text);
  }
  return out;
}

/** A value as a command argument. */
export function textFromValue(value: unknown, converter?: Converter): string {
  const text = converter?.encode ? String(converter.encode(value)) : typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  // A line break would end the command early and smuggle in a second one.
  if (/[\r\n]/.test(text)) throw errors.badValue('a value sent on a line protocol cannot hold a line break');
  return text;
}

/** `move {distance}` with `{ distance: 0.5 }` -> `move 0.5`; `{value}` stands for a scalar input. */
export function fillTemplate(template: string, input: unknown, converter?: Converter): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = key === 'value' && (typeof input !== 'object' || input === null) ? input : (input as Record<string, unknown> | null)?.[key];
    if (value === undefined) throw errors.badValue(`input has no ${key}`);
    return textFromValue(value, converter);
  });
}

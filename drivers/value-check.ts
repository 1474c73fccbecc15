/**
 * Checks a value against the JSON Schema subset of drivers/driver.ts: the registry
 * checks PUT values and action inputs, drivers check what devices report. Returns the
 * first problem, naming where it is, what was expected (with the allowed values) and
 * what came, e.g. `input.size: expected one of small, medium, large, got "huge"`;
 * undefined when the value fits. `applyDefaults` fills the missing fields that have a
 * `default` first.
 */
import type { ValueSchema } from './driver.js';

const ARTICLE: Readonly<Record<NonNullable<ValueSchema['type']>, string>> = {
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  string: 'a string',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** An allowed value as people write it: `medium`, `3`; quoted only where bare text would mislead. */
function allowed(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  return value === '' || /[\s,"]/.test(value) || /^(true|false|null|-?\d[\d.e+-]*)$/i.test(value) ? JSON.stringify(value) : value;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** What a schema accepts, in words: `one of small, medium, large`, `an integer from 1 to 10`. */
export function describeSchema(schema: ValueSchema): string {
  if (schema.enum !== undefined) return `one of ${schema.enum.map(allowed).join(', ')}`;
  const kind = schema.type === undefined ? (schema.minimum ?? schema.maximum) !== undefined ? 'a number' : 'a value' : ARTICLE[schema.type];
  const { minimum, maximum, minLength, maxLength } = schema;
  if (minimum !== undefined && maximum !== undefined) return `${kind} from ${minimum} to ${maximum}`;
  if (minimum !== undefined) return `${kind} of at least ${minimum}`;
  if (maximum !== undefined) return `${kind} of at most ${maximum}`;
  if (minLength !== undefined && maxLength !== undefined) return `${kind} of ${minLength} to ${plural(maxLength, 'character')}`;
  if (minLength !== undefined) return `${kind} of at least ${plural(minLength, 'character')}`;
  if (maxLength !== undefined) return `${kind} of at most ${plural(maxLength, 'character')}`;
  return kind;
}

/** What came, for messages: `"huge"`, `2.5`, `null`, `an object`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string' && value.length > 40) return `${JSON.stringify(value.slice(0, 40))}…`;
  return JSON.stringify(value) ?? String(value);
}

function fitsType(type: NonNullable<ValueSchema['type']>, value: unknown): boolean {
  switch (type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'null':
      return value === null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `where` names the value in messages, e.g. `value` or `input`. */
export function checkValue(schema: ValueSchema | undefined, value: unknown, where = 'value'): string | undefined {
  if (!schema) return undefined;
  const wrong = (): string => `${where}: expected ${describeSchema(schema)}, got ${describeValue(value)}`;
  if (value === undefined) return wrong();
  if (schema.type !== undefined && !fitsType(schema.type, value)) return wrong();
  if (schema.enum !== undefined && !schema.enum.includes(value as string | number | boolean)) return wrong();
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return wrong();
    if (schema.maximum !== undefined && value > schema.maximum) return wrong();
  }
  if (typeof value === 'string') {
    const tooShort = schema.minLength !== undefined && value.length < schema.minLength;
    if (tooShort || (schema.maxLength !== undefined && value.length > schema.maxLength)) return `${wrong()} (${plural(value.length, 'character')})`;
  }
  if (Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) {
      const problem = checkValue(schema.items, value[i], `${where}[${i}]`);
      if (problem) return problem;
    }
  }
  if (isRecord(value)) {
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) return checkValue(schema.properties?.[key] ?? {}, undefined, `${where}.${key}`);
    }
    for (const [key, item] of Object.entries(value)) {
      const itemSchema = schema.properties?.[key];
      if (itemSchema) {
        const problem = checkValue(itemSchema, item, `${where}.${key}`);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        const fields = Object.keys(schema.properties ?? {});
        const only = fields.length === 0 ? 'no fields' : `only the field${fields.length === 1 ? '' : 's'} ${fields.join(', ')}`;
        return `${where}: expected ${only}, got unknown field ${JSON.stringify(key)}`;
      }
    }
  }
  return undefined;
}

function hasDefaults(schema: ValueSchema): boolean {
  return Object.values(schema.properties ?? {}).some((property) => property.default !== undefined || hasDefaults(property));
}

/**
 * The value with every missing field that has a `default` filled in (a copy: the
 * value given is never changed). A missing object whose fields have defaults starts
 * as `{}`, so an action called without input gets its defaults.
 */
export function applyDefaults(schema: ValueSchema | undefined, value: unknown): unknown {
  if (!schema) return value;
  if (value === undefined && schema.default !== undefined) return structuredClone(schema.default);
  const isObjectSchema = schema.type === 'object' || (schema.type === undefined && schema.properties !== undefined);
  if (value === undefined && isObjectSchema && hasDefaults(schema)) value = {};
  if (isRecord(value) && schema.properties) {
    const filled: Record<string, unknown> = { ...value };
    for (const [key, property] of Object.entries(schema.properties)) {
      const next = applyDefaults(property, filled[key]);
      if (next !== undefined) filled[key] = next;
    }
    return filled;
  }
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    return value.map((item) => applyDefaults(items, item));
  }
  return value;
}

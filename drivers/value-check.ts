/**
 * Checks a value against the JSON Schema subset of drivers/driver.ts: the registry
 * checks PUT values and action inputs, drivers check what devices report. Returns the
 * first problem, naming where it is, or undefined.
 */
import type { ValueSchema } from './driver.js';

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
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

/** `where` names the value in messages, e.g. `value` or `input`. */
export function checkValue(schema: ValueSchema | undefined, value: unknown, where = 'value'): string | undefined {
  if (!schema) return undefined;
  if (value === undefined) return `${where}: missing`;
  if (schema.type !== undefined && !fitsType(schema.type, value)) {
    return `${where}: expected ${schema.type === 'integer' ? 'an integer' : `a ${schema.type}`}, got ${typeName(value)}`;
  }
  if (schema.enum !== undefined && !schema.enum.includes(value as string | number | boolean)) {
    return `${where}: expected one of ${schema.enum.map((item) => JSON.stringify(item)).join(', ')}`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${where}: ${value} is below the minimum ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${where}: ${value} is above the maximum ${schema.maximum}`;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) return `${where}: shorter than ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${where}: longer than ${schema.maxLength} characters`;
  }
  if (Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) {
      const problem = checkValue(schema.items, value[i], `${where}[${i}]`);
      if (problem) return problem;
    }
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (record[key] === undefined) return `${where}.${key}: missing`;
    }
    for (const [key, item] of Object.entries(record)) {
      const itemSchema = schema.properties?.[key];
      if (itemSchema) {
        const problem = checkValue(itemSchema, item, `${where}.${key}`);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        return `${where}.${key}: not allowed`;
      }
    }
  }
  return undefined;
}

/**
 * zod's issues about a profile, in the words of a config error: where, what was
 * expected and what came (`properties.t.codec.type: expected one of uint8, int8, ...,
 * got "int24"`). A union (a codec may be a name or one of several mappings) is
 * explained by the form the value was closest to, not as "Invalid input".
 */
import type { z } from 'zod';
import { describeValue } from './value-check.js';

type Path = readonly (string | number)[];

export interface ExplainedIssue {
  readonly path: Path;
  readonly message: string;
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

function listed(values: readonly unknown[]): string {
  return [...new Set(values.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))))].join(', ');
}

function pathOf(issue: z.core.$ZodIssue): Path {
  return issue.path.map((part) => (typeof part === 'number' ? part : String(part)));
}

/** Every issue inside a union's branches, with paths relative to the union's value. */
function leaves(issue: z.core.$ZodIssue): z.core.$ZodIssue[][] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [[issue]];
  return issue.errors.flatMap((branch) => {
    const nested = branch.filter((inner) => inner.code === 'invalid_union' && inner.path.length === 0 && inner.errors.length > 0);
    const rest = branch.filter((inner) => !nested.includes(inner));
    return [...(rest.length > 0 ? [rest] : []), ...nested.flatMap(leaves)];
  });
}

/** The names a union accepts at `at` (`[]`: the value itself; `['type']`: a mapping's type). */
function acceptedAt(branches: readonly z.core.$ZodIssue[][], at: string | undefined): unknown[] {
  return branches.flatMap((branch) =>
    branch.flatMap((inner) => {
      const path = pathOf(inner);
      const here = at === undefined ? path.length === 0 : path.length === 1 && path[0] === at;
      if (!here) return [];
      if (inner.code === 'invalid_value') return inner.values;
      if (inner.code === 'invalid_union' && 'options' in inner && Array.isArray(inner.options)) return inner.options as unknown[];
      return [];
    }),
  );
}

function explainUnion(issue: z.core.$ZodIssue, path: Path, value: unknown, root: unknown): ExplainedIssue[] {
  const branches = leaves(issue);
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'type' in value) {
    const types = acceptedAt(branches, 'type');
    const kind = (value as { type: unknown }).type;
    if (!types.includes(kind)) return [{ path: [...path, 'type'], message: `expected one of ${listed(types)}, got ${describeValue(kind)}` }];
    // The form whose type matched: its own problems.
    const matching = branches.find((branch) => !branch.some((inner) => pathOf(inner)[0] === 'type' && pathOf(inner).length === 1));
    if (matching) return matching.flatMap((inner) => explainIssue({ ...inner, path: [...path, ...inner.path] } as z.core.$ZodIssue, root));
  }
  const names = acceptedAt(branches, undefined);
  const types = acceptedAt(branches, 'type');
  const forms = [names.length > 0 ? `one of ${listed(names)}` : '', types.length > 0 ? `a mapping with type ${listed(types)}` : ''].filter(Boolean).join(', or ');
  return [{ path, message: `expected ${forms || 'another form'}, got ${describeValue(value)}` }];
}

/** One issue in words; an unknown key is reported at the key itself. */
export function explainIssue(issue: z.core.$ZodIssue, root: unknown): ExplainedIssue[] {
  const path = pathOf(issue);
  const value = valueAt(root, path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown field' }));
    case 'invalid_type':
      return [{ path, message: `expected ${issue.expected === 'int' ? 'an integer' : issue.expected}, got ${describeValue(value)}` }];
    case 'invalid_value':
      return [{ path, message: `expected one of ${listed(issue.values)}, got ${describeValue(value)}` }];
    case 'invalid_union':
      return explainUnion(issue, path, value, root);
    case 'custom':
      return [{ path, message: issue.message }];
    default: {
      // too_small, too_big, invalid_format...: zod's words after its "Too small:" prefix, or the schema's own message.
      const expected = issue.message.replace(/^(Too small|Too big|Invalid [a-z ]+):\s*/i, '').replace(/^expected\s+/i, '');
      return [{ path, message: `expected ${expected}, got ${describeValue(value)}` }];
    }
  }
}

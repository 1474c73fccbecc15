/**
 * docs/limits.md says what the schema does: its config example lists every limit with
 * its default, and its table has one row per limit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultLimits } from '../../gateway/limits/schema.js';
import { ROOT } from '../support/pasarela.js';

const text = readFileSync(join(ROOT, 'docs/limits.md'), 'utf8');

describe('docs/limits.md', () => {
  it('shows every limit with its default in the config example', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(text)![1]!;
    expect((parse(example) as { limits: unknown }).limits).toEqual(defaultLimits());
  });

  it('explains every limit in a row of its table, and nothing else', () => {
    const rows = [...text.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((match) => match[1]);
    expect(rows.sort()).toEqual(Object.keys(defaultLimits()).sort());
  });
});

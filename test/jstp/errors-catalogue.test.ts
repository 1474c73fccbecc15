/**
 * The error catalogue: its factories fix code and status together, and docs/errors.md
 * lists exactly its codes with the same statuses (both directions).
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { errorCatalogue, ErrorCode, errors, PasarelaError, Status, statusText, type CatalogueStatus } from '../../gateway/jstp/errors.js';

const DOC = new URL('../../docs/errors.md', import.meta.url);

interface DocEntry {
  code: string;
  /** The status line's value: a number, 'none' or 'as answered'; undefined when the line is missing. */
  status: string | undefined;
  /** What follows a numeric status on its line ("Not Found"). */
  text?: string;
}

/** Each `### \`PASARELA_...\`` heading and the `JSTP status:` line under it. */
function parseDoc(text: string): DocEntry[] {
  const entries: DocEntry[] = [];
  for (const line of text.split('\n')) {
    const heading = /^#{2,4}\s+`(PASARELA_[A-Z_]+)`\s*$/.exec(line);
    if (heading) {
      entries.push({ code: heading[1]!, status: undefined });
      continue;
    }
    const status = /^JSTP status:\s*(\d{3}|none|as answered)\b(.*)$/.exec(line);
    const current = entries.at(-1);
    if (status && current && current.status === undefined) {
      current.status = status[1]!;
      current.text = status[2]!.trim();
    }
  }
  return entries;
}

function docStatus(status: CatalogueStatus): string {
  return status === null ? 'none' : status === 'answered' ? 'as answered' : String(status);
}

describe('the error catalogue', () => {
  it('has one entry per ErrorCode, codes unique and spelled PASARELA_*', () => {
    const codes = errorCatalogue.map((entry) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.sort()).toEqual(Object.values(ErrorCode).sort());
    for (const code of codes) expect(code).toMatch(/^PASARELA_[A-Z]+(_[A-Z]+)*$/);
  });

  it('gives every factory its code and the catalogue status, whatever the arguments', () => {
    for (const entry of errorCatalogue) {
      const name = entry.key[0]!.toLowerCase() + entry.key.slice(1);
      const factory = (errors as unknown as Record<string, (...args: unknown[]) => PasarelaError>)[name];
      expect(factory, name).toBeTypeOf('function');
      const cause = new Error('underneath');
      const error = entry.status === 'answered' ? factory!(418, 'a', 'b', { cause }) : factory!('a', 'b', { cause });
      expect(error).toBeInstanceOf(PasarelaError);
      expect(error.code).toBe(entry.code);
      expect(error.status).toBe(entry.status === 'answered' ? 418 : (entry.status ?? undefined));
      expect(error.cause).toBe(cause);
    }
  });

  it('fills message templates in order, and takes a cause only as the last argument', () => {
    expect(errors.unreachable('10.0.0.2:3000', 'timed out').message).toBe('cannot connect to 10.0.0.2:3000: timed out');
    expect(errors.badPattern('two ellipses').message).toBe('bad endpoint pattern: two ellipses');
    expect(errors.engineClosed().message).toBe('engine closed');
    expect(errors.deviceNotFound('no device "x"')).toMatchObject({ message: 'no device "x"', code: ErrorCode.DeviceNotFound, status: Status.NotFound });
    expect(errors.deviceOffline('down').cause).toBeUndefined();
    expect(errors.answerStatus(409, 'answered 409')).toMatchObject({ code: ErrorCode.AnswerStatus, status: 409, message: 'answered 409' });
  });

  it('the PasarelaError constructor takes the status from the catalogue too', () => {
    expect(new PasarelaError(ErrorCode.ReadOnly, 'no')).toMatchObject({ status: Status.Forbidden });
    expect(new PasarelaError(ErrorCode.Config, 'no').status).toBeUndefined();
    expect(new PasarelaError(ErrorCode.AnswerStatus, 'no', { status: 503 }).status).toBe(503);
  });
});

/** What is wrong with a doc against the catalogue: codes missing, unknown, twice, or with another status. */
function docProblems(text: string): string[] {
  const catalogue = new Map(errorCatalogue.map((entry) => [entry.code as string, docStatus(entry.status)]));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const entry of parseDoc(text)) {
    if (!catalogue.has(entry.code)) problems.push(`${entry.code} is documented but is no code`);
    else if (entry.status !== catalogue.get(entry.code)) problems.push(`${entry.code}: JSTP status ${entry.status ?? '(missing)'}, catalogue ${catalogue.get(entry.code)}`);
    if (entry.text && entry.text !== statusText[Number(entry.status)]) problems.push(`${entry.code}: "${entry.text}" is not the text of ${entry.status}`);
    if (seen.has(entry.code)) problems.push(`${entry.code} is documented twice`);
    seen.add(entry.code);
  }
  for (const code of catalogue.keys()) if (!seen.has(code)) problems.push(`${code} is missing from docs/errors.md`);
  for (const [code] of text.matchAll(/PASARELA_[A-Z_]+/g)) if (!catalogue.has(code)) problems.push(`${code} is named but is no code`);
  return [...new Set(problems)];
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of the catalogue, each with its status, and names no other', async () => {
    expect(docProblems(await readFile(DOC, 'utf8'))).toEqual([]);
  });

  it('the check fails on a missing code, an unknown code, a wrong or missing status', () => {
    const section = (entry: (typeof errorCatalogue)[number], status = docStatus(entry.status)) => `### \`${entry.code}\`\nJSTP status: ${status}\n`;
    const [first, ...rest] = errorCatalogue;
    const good = errorCatalogue.map((entry) => section(entry)).join('\n');
    expect(docProblems(good)).toEqual([]);
    expect(docProblems(rest.map((entry) => section(entry)).join('\n'))).toEqual([`${first!.code} is missing from docs/errors.md`]);
    expect(docProblems(`${good}\n### \`PASARELA_NO_SUCH\`\nJSTP status: none\n`)).toContain('PASARELA_NO_SUCH is documented but is no code');
    expect(docProblems(`${good}\nSee PASARELA_TYPO.`)).toEqual(['PASARELA_TYPO is named but is no code']);
    const wrong = [section(first!, first!.status === 400 ? '404' : '400'), ...rest.map((entry) => section(entry))].join('\n');
    expect(docProblems(wrong)).toHaveLength(1);
    expect(docProblems(good.replace(/JSTP status: 404/, 'JSTP status: 404 Forbidden'))).toEqual(['PASARELA_DEVICE_NOT_FOUND: "Forbidden" is not the text of 404']);
    const bare = [`### \`${first!.code}\`\n\nno status line\n`, ...rest.map((entry) => section(entry))].join('\n');
    expect(docProblems(bare)).toEqual([`${first!.code}: JSTP status (missing), catalogue ${docStatus(first!.status)}`]);
  });
});

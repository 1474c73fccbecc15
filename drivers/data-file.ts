/**
 * Data files as Pasarela reads them (configs, profile files, a driver's own profile):
 * YAML or JSON, parsed with a map from each key path to its line, so that a problem
 * can name the file, the line and the key. A syntax error names the file and the line.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Document } from 'yaml';
import { ErrorCode, PasarelaError } from '../gateway/jstp/errors.js';

/** Finds the line of a key path in the source text, for messages. */
export type SourceMap = (path: readonly PropertyKey[]) => number | undefined;

export interface ParsedData {
  readonly value: unknown;
  readonly map: SourceMap;
}

/** A data file that cannot be read or parsed (`PASARELA_CONFIG`); the message names the file and the line. */
export class DataFileError extends PasarelaError {
  readonly file: string;
  constructor(file: string, message: string) {
    super(ErrorCode.Config, message);
    this.name = 'DataFileError';
    this.file = file;
  }
}

/** The extensions a data file may have. */
export const DATA_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

/** Parses YAML keeping where each key is; `path` names the file in errors. `yaml` is loaded on first use. */
export async function parseYaml(path: string, text: string): Promise<ParsedData> {
  const { LineCounter, parseDocument } = await import('yaml');
  const lineCounter = new LineCounter();
  const document: Document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const first = document.errors[0];
  if (first) {
    const line = first.linePos?.[0].line;
    const column = first.linePos?.[0].col;
    const where = line === undefined ? path : `${path}:${line}${column === undefined ? '' : `:${column}`}`;
    // yaml's message continues with a code excerpt; the first line says it all.
    const reason = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new DataFileError(path, `${where}: YAML syntax error${line === undefined ? '' : ` at line ${line}`}: ${reason}`);
  }
  const map: SourceMap = (keyPath) => {
    // Walk up the path until a node exists (a missing key is reported on its parent).
    for (let depth = keyPath.length; depth >= 0; depth--) {
      const node = document.getIn(keyPath.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { value: document.toJS() ?? {}, map };
}

/** Parses JSON (no key lines: JSON.parse keeps none); a syntax error names the line. */
export function parseJson(path: string, text: string): ParsedData {
  try {
    return { value: JSON.parse(text), map: () => undefined };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /at position (\d+)/.exec(message);
    const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
    const where = line === undefined ? path : `${path}:${line}`;
    throw new DataFileError(path, `${where}: JSON syntax error${line === undefined ? '' : ` at line ${line}`}: ${message.replace(/ in JSON at position \d+.*$/, '')}`);
  }
}

/** Reads a `.yaml`, `.yml` or `.json` file; `shown` is how messages name it (default: `path`). */
export async function readDataFile(path: string, shown: string = path, what = 'data file'): Promise<ParsedData> {
  const extension = extname(path).toLowerCase();
  if (!(DATA_EXTENSIONS as readonly string[]).includes(extension)) {
    throw new DataFileError(shown, `${shown}: a ${what} is .yaml, .yml or .json, not "${extension || '(none)'}"`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new DataFileError(shown, `${shown}: cannot read ${what} (${reason})`);
  }
  return extension === '.json' ? parseJson(shown, text) : await parseYaml(shown, text);
}

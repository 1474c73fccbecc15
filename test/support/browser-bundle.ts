/**
 * Bundles a module for browsers the way a web app would (esbuild, platform
 * 'browser', ESM with code splitting) and reports what went in and came out. esbuild
 * refuses to resolve a Node built-in for the browser platform, so a module that
 * reaches one fails to bundle.
 */
import { build } from 'esbuild';

export interface BrowserBundle {
  /** Every module that went in, relative to the working folder. */
  readonly inputs: readonly string[];
  /** Each output file: its size, the module it is the entry of (chunks have none), the imports left external. */
  readonly outputs: readonly { path: string; bytes: number; entryPoint: string | undefined; external: string[] }[];
}

export async function bundleForBrowser(entry: string, workingDir: string): Promise<BrowserBundle> {
  const result = await build({
    absWorkingDir: workingDir,
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    splitting: true,
    minify: true,
    outdir: 'out',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return {
    inputs: Object.keys(result.metafile.inputs),
    outputs: Object.entries(result.metafile.outputs).map(([path, output]) => ({
      path,
      bytes: output.bytes,
      entryPoint: output.entryPoint,
      external: output.imports.filter((item) => item.external).map((item) => item.path),
    })),
  };
}

/** Why a bundle of the JSTP client is not browser-safe, or an empty list. */
export function nodeOnlyParts(bundle: BrowserBundle): string[] {
  const problems: string[] = [];
  for (const input of bundle.inputs) {
    if (/client-node\.(ts|js)$/.test(input)) problems.push(`${input}: the Node dialer`);
    if (/node_modules\/(ws|pino-pretty|serialport|mqtt|aedes)\//.test(input)) problems.push(`${input}: a Node-only package`);
  }
  for (const output of bundle.outputs) {
    for (const path of output.external) problems.push(`${output.path} imports ${path}, left external`);
  }
  return problems;
}

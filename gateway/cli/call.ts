/**
 * `pasarela call METHOD a/b/c`: sends one dispatch and prints every answer; `--via`
 * sends it through other engines (`host` hops), `--to` seals it to the last one.
 */
import { parseArgs } from 'node:util';
import { REGULAR_METHODS, type RegularMethod } from '../jstp/dispatch.js';
import { statusText } from '../jstp/errors.js';
import { DEFAULT_URL, err, EXIT_FAILURE, EXIT_OK, noExtra, out, parseMethod, parsePath, TRUST_FLAGS, UsageError } from './common.js';
import { connectCommand, SIGNING_FLAGS } from './credentials.js';
import { parseVia, SealTargetError, sealToTarget, SEALING_FLAGS, targetAddress } from './seal-target.js';

function parseBody(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`--body: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

export async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { body: { type: 'string' }, url: { type: 'string' }, emit: { type: 'boolean' }, ...SIGNING_FLAGS, ...TRUST_FLAGS, ...SEALING_FLAGS },
  });
  const [methodArg, pathArg, ...extra] = positionals;
  noExtra(extra);
  const method = parseMethod(methodArg, REGULAR_METHODS) as RegularMethod;
  const resource = parsePath('PATH', pathArg);
  const body = parseBody(values.body);
  const url = values.url ?? DEFAULT_URL;
  const hops = parseVia(values.via);
  if (values['seal-resource'] && values.to === undefined) throw new UsageError('--seal-resource needs --to (the one recipient that may read the resource)');
  if (values['seal-resource'] && !values.emit) throw new UsageError('--seal-resource is for --emit: a request is always sealed whole');
  const options = hops.length > 0 ? { host: hops } : {};

  const connected = await connectCommand('call', url, values, { seal: values.to !== undefined, resources: values['seal-resource'] ? 'full' : 'visible' });
  if (typeof connected === 'number') return connected;
  const { client } = connected;
  try {
    if (values.to !== undefined) {
      try {
        await sealToTarget(connected, values.to, targetAddress(url, hops), hops, values['known-engines']);
      } catch (error) {
        if (!(error instanceof SealTargetError)) throw error;
        err(`pasarela call: ${error.message}`);
        return EXIT_FAILURE;
      }
    }
    if (values.emit) {
      // Fire and forget (how devices report changes); close() flushes it to the socket.
      client.emit(method, resource, body, options);
      return EXIT_OK;
    }
    const answers = await client.request(method, resource, body, options).all();
    for (const answer of answers) {
      const text = statusText[answer.status] ?? '';
      const json = answer.body === undefined ? '' : ` ${JSON.stringify(answer.body)}`;
      out(`${answer.status} ${text}${json}`);
    }
    if (answers.length === 0) err('pasarela call: no answers');
    return answers.some((answer) => answer.status >= 200 && answer.status < 300) ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await client.close();
  }
}

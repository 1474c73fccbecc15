/** `pasarela call METHOD a/b/c`: sends one dispatch and prints every answer. */
import { parseArgs } from 'node:util';
import { REGULAR_METHODS, type RegularMethod } from '../jstp/dispatch.js';
import { statusText } from '../jstp/errors.js';
import { DEFAULT_URL, err, EXIT_FAILURE, EXIT_OK, noExtra, out, parseMethod, parsePath, TRUST_FLAGS, UsageError } from './common.js';
import { connectForCommand, SIGNING_FLAGS } from './credentials.js';

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
    options: { body: { type: 'string' }, url: { type: 'string' }, emit: { type: 'boolean' }, ...SIGNING_FLAGS, ...TRUST_FLAGS },
  });
  const [methodArg, pathArg, ...extra] = positionals;
  noExtra(extra);
  const method = parseMethod(methodArg, REGULAR_METHODS) as RegularMethod;
  const resource = parsePath('PATH', pathArg);
  const body = parseBody(values.body);
  const url = values.url ?? DEFAULT_URL;

  const client = await connectForCommand('call', url, values);
  if (typeof client === 'number') return client;
  try {
    if (values.emit) {
      // Fire and forget (how devices report changes); close() flushes it to the socket.
      client.emit(method, resource, body);
      return EXIT_OK;
    }
    const answers = await client.request(method, resource, body).all();
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

/**
 * `pasarela watch METHOD a/*\/c`: binds a pattern and prints each matching dispatch
 * until Ctrl-C, or until the reader of its output goes away (`| head -3`): both exit 0.
 * With `--identity`, what the gateway seals to that identity is opened first.
 */
import { parseArgs } from 'node:util';
import type { EndpointInput } from '../client.js';
import { REGULAR_METHODS } from '../jstp/dispatch.js';
import { Status, statusText } from '../jstp/errors.js';
import { DEFAULT_URL, err, EXIT_FAILURE, EXIT_OK, noExtra, onStdoutGone, out, parseMethod, parsePath, TRUST_FLAGS, UsageError } from './common.js';
import { connectCommand, SIGNING_FLAGS } from './credentials.js';

const WATCHABLE = ['*', ...REGULAR_METHODS, 'BIND', 'RELEASE'];

export async function watch(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, ...SIGNING_FLAGS, ...TRUST_FLAGS },
  });
  const [methodArg, patternArg, ...extra] = positionals;
  noExtra(extra);
  const method = parseMethod(methodArg, WATCHABLE) as EndpointInput['method'];
  const pattern = parsePath('PATTERN', patternArg);
  const url = values.url ?? DEFAULT_URL;

  // With an identity, it presents its identity document: the gateway seals what it
  // sends here to it, and the sealing stage opens it.
  const connected = await connectCommand('watch', url, values, { seal: values.identity !== undefined, present: true });
  if (typeof connected === 'number') return connected;
  const { client } = connected;

  try {
    client.bind({ method, resource: pattern }, (incoming) => {
      const json = incoming.body === undefined ? '' : ` ${JSON.stringify(incoming.body)}`;
      out(`${incoming.method} ${incoming.resource.join('/')}${json}`);
      // A request that reaches a watcher gets 100 Acknowledge: the watcher observes and
      // never serves it, but silence would cost the caller a 504 after the timeout.
      // 100 is not a final answer (the trigger stays open for one), so 101 closes it.
      if (incoming.expectsAnswer) {
        incoming.answer(Status.Acknowledge, undefined);
        incoming.answer(Status.NoMoreAnswers, undefined);
      }
      return undefined;
    });
  } catch (error) {
    await client.close();
    throw new UsageError(`PATTERN: ${error instanceof Error ? error.message : String(error)}`);
  }
  err(`watching ${method} ${pattern.join('/')} on ${url} (Ctrl-C to stop)`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void client.close().then(() => resolve(EXIT_OK));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    onStdoutGone(stop);
    // A gateway with security may refuse the BIND (401, 403): nothing would ever come.
    client.on('refused', ({ answers }) => {
      if (stopping) return;
      stopping = true;
      for (const answer of answers) err(`pasarela watch: BIND refused: ${answer.status} ${statusText[answer.status] ?? ''}${answer.body === undefined ? '' : ` ${JSON.stringify(answer.body)}`}`);
      void client.close().then(() => resolve(EXIT_FAILURE));
    });
    client.on('state', (change) => {
      if (change.state !== 'closed' || stopping) return;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (change.error) err(`pasarela watch: connection to ${url} lost (${change.error.message})`);
      // The gateway went away (a close we asked for resolves through stop()).
      resolve(EXIT_FAILURE);
    });
  });
}

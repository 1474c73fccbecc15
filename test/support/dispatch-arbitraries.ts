/** fast-check arbitraries for valid dispatches of every morphology. */
import fc from 'fast-check';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';

const element = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 1e6 }));
const resource = fc.array(element, { minLength: 1, maxLength: 6 });
const literalPatternElement = fc
  .string({ minLength: 1, maxLength: 8 })
  .filter((s) => !s.startsWith('\\') && !s.startsWith(':') && s !== '*' && s !== '...');
const pattern = fc.array(fc.oneof(literalPatternElement, fc.constant('*'), fc.constant(':id')), { minLength: 1, maxLength: 5 })
  // Capture names must be unique within a pattern.
  .filter((elements) => elements.filter((e) => e === ':id').length <= 1);
const token = fc.oneof(
  fc.constant(undefined),
  fc.tuple(fc.uuid()).map((t) => t as [string]),
  fc.tuple(fc.uuid(), fc.uuid()).map((t) => t as [string, string]),
);
const version = fc.constantFrom('0.4', '0.5', '0.6');
const timestamp = fc.integer({ min: 0, max: 4_102_444_800_000 });
const body = fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined });
const extraHeaders = fc.dictionary(
  fc.constantFrom('from', 'to', 'x-trace', 'x-room'),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 2 },
);

function assemble(parts: Record<string, unknown>): Dispatch {
  const dispatch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parts)) if (value !== undefined) dispatch[key] = value;
  return dispatch as Dispatch;
}

export const regularDispatch = fc
  .record({
    version,
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    resource,
    timestamp,
    token,
    body,
    referer: fc.option(fc.string(), { nil: undefined }),
    host: fc.option(fc.array(fc.tuple(fc.domain(), fc.integer({ min: 1, max: 65535 }), fc.constantFrom('tcp', 'ws')), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    extra: extraHeaders,
  })
  .map(({ version: v, extra, ...rest }) => assemble({ protocol: ['JSTP', v], ...rest, ...extra }));

export const subscriptionDispatch = fc
  .record({
    version,
    method: fc.constantFrom('BIND', 'RELEASE'),
    endpoint: fc.record({ method: fc.constantFrom('*', 'GET', 'PATCH', 'ANSWER'), resource: pattern }),
    timestamp,
    token,
  })
  .map(({ version: v, ...rest }) => assemble({ protocol: ['JSTP', v], ...rest }));

export const answerDispatch = fc
  .record({
    version,
    status: fc.constantFrom(100, 101, 200, 400, 404, 500, 504),
    transactionId: fc.uuid(),
    triggeringId: fc.uuid(),
    timestamp,
    body,
  })
  .map(({ version: v, status, transactionId, triggeringId, ...rest }) =>
    assemble({ protocol: ['JSTP', v], method: 'ANSWER', resource: [status, transactionId, triggeringId], ...rest }),
  );

export const anyDispatch = fc.oneof(regularDispatch, subscriptionDispatch, answerDispatch);

/**
 * The `reconnect` key of a driver's config section (`serial.reconnect`,
 * `ble.reconnect`): the shared Backoff's options, checked by the Backoff's own rules,
 * so a config file and the code accept the same spelling.
 */
import { z } from 'zod';
import { backoffProblems, type BackoffOptions } from '../gateway/jstp/backoff.js';

export const reconnectSchema = z.custom<BackoffOptions>().superRefine((value, ctx) => {
  for (const problem of backoffProblems(value)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
});

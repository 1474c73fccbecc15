/**
 * Runs a driver call with a deadline: the call gets an AbortSignal, and when the
 * deadline passes the signal aborts and the caller gets a 504 at once, without
 * waiting for a driver that does not listen to its signal.
 */
import { errors } from '../jstp/errors.js';

export function withDeadline<T>(ms: number, what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = errors.deviceTimeout(`${what}: no answer from the device within ${ms} ms`);
      controller.abort(error);
      reject(error);
    }, ms);
    let pending: Promise<T>;
    try {
      pending = call(controller.signal);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * The errors a device's link rejects with when the device itself answered, each with
 * its JSTP status, so the registry answers the caller with the status the device gave.
 * Shared by the drivers whose devices speak JSTP or reply to commands.
 */
import { errors, type PasarelaError, Status } from '../gateway/jstp/errors.js';

/** The device answered a command with a status other than 2xx. */
export function deviceAnswered(status: number, reason: string): PasarelaError {
  return BY_STATUS.get(status)?.(reason) ?? errors.answerStatus(status, reason);
}

/** The device errors whose status a device's answer carries. */
const BY_STATUS = new Map<number, (reason: string) => PasarelaError>([
  [Status.NotFound, errors.deviceNotFound],
  [Status.UnreachableHost, errors.deviceOffline],
  [Status.Timeout, errors.deviceTimeout],
  [Status.NotImplemented, errors.notSupported],
  [Status.BadDispatch, errors.badValue],
]);

/** The device sent something the link cannot use (a description, a reply line). */
export function badReply(what: string): PasarelaError {
  return errors.convert(what);
}

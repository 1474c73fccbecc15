/**
 * The errors a serial link rejects with, each with its JSTP status, so the registry
 * answers the caller with the same status the device (or the link) gave.
 */
import { errors, PasarelaError, Status } from '../../gateway/jstp/errors.js';

export function portGone(name: string): PasarelaError {
  return errors.deviceOffline(`serial port ${name} is not open`);
}

export function linkStopped(name: string): PasarelaError {
  return errors.deviceOffline(`serial link ${name} closed`);
}

/** The device booted again: what it was doing is forgotten. */
export function deviceRestarted(name: string): PasarelaError {
  return errors.deviceOffline(`the device on ${name} restarted`);
}

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

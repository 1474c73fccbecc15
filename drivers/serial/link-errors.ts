/**
 * The errors a serial link rejects with, each with its JSTP status, so the registry
 * answers the caller with the same status the device (or the link) gave.
 */
import { ErrorCode, PasarelaError, Status } from '../../gateway/jstp/errors.js';

export function portGone(name: string): PasarelaError {
  return new PasarelaError(ErrorCode.DeviceOffline, `serial port ${name} is not open`, { status: Status.UnreachableHost });
}

export function linkStopped(name: string): PasarelaError {
  return new PasarelaError(ErrorCode.DeviceOffline, `serial link ${name} closed`, { status: Status.UnreachableHost });
}

/** The device booted again: what it was doing is forgotten. */
export function deviceRestarted(name: string): PasarelaError {
  return new PasarelaError(ErrorCode.DeviceOffline, `the device on ${name} restarted`, { status: Status.UnreachableHost });
}

/** The device answered a command with a status other than 2xx. */
export function deviceAnswered(status: number, reason: string): PasarelaError {
  const code =
    status === Status.NotFound ? ErrorCode.DeviceNotFound
    : status === Status.UnreachableHost ? ErrorCode.DeviceOffline
    : status === Status.Timeout ? ErrorCode.DeviceTimeout
    : status === Status.NotImplemented ? ErrorCode.NotSupported
    : status === Status.BadDispatch ? ErrorCode.BadValue
    : ErrorCode.AnswerStatus;
  return new PasarelaError(code, reason, { status });
}

/** The device sent something the link cannot use (a description, a reply line). */
export function badReply(what: string): PasarelaError {
  return new PasarelaError(ErrorCode.Convert, what, { status: Status.UnreachableHost });
}

/**
 * The errors a serial link rejects with, each with its JSTP status, so the registry
 * answers the caller with the same status the device (or the link) gave.
 */
import { errors, type PasarelaError } from '../../gateway/jstp/errors.js';

export { badReply, deviceAnswered } from '../device-errors.js';

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

/**
 * `pasarela/driver`: what a driver author needs. The Driver interface and its
 * context (drivers/driver.ts), the errors that pick a device's answer and the status
 * codes, the value converters, the profile helpers (as code or as a data file), the
 * value checks, the backoff, and zod (the same copy Pasarela validates profiles with,
 * for a profile extension). Test it with `pasarela/testing`; run it from a config's
 * `drivers:`, or in a program with `driverPlugin` from `pasarela`.
 * docs/writing-a-driver.md walks through one, from `pasarela new driver` to publishing.
 */
export type {
  ActionSpec,
  DeviceConfig,
  DeviceDescription,
  DeviceHandle,
  DeviceHandlers,
  DeviceInfo,
  Driver,
  DriverContext,
  EventSpec,
  PropertySpec,
  ValueSchema,
} from './driver.js';
export { ErrorCode, errors, PasarelaError, Status, statusText, type ErrorCodeValue, type StatusCode } from '../gateway/jstp/errors.js';
export { Backoff, backoffProblems, type BackoffOptions } from '../gateway/jstp/backoff.js';
export { silentLogger, type Logger } from '../gateway/jstp/logger.js';
export {
  compose,
  converterSpecSchema,
  createConverter,
  decodeError,
  encodeError,
  flags,
  int8,
  int16le,
  jsonPath,
  numberFromString,
  onOff,
  parsePath,
  uint8,
  uint16le,
  uint32le,
  utf8,
  type Converter,
  type ConverterSpec,
  type NumberOptions,
  type OnOffOptions,
} from './converters.js';
export { describeProfile, loadProfile, ProfileError, profileSchema, valueSchema, type Profile, type ProfileExtension, type ProfileIssue } from './profile.js';
export { readProfileFile } from './profile-file.js';
export { applyDefaults, checkValue, describeSchema, describeValue } from './value-check.js';
export { z } from 'zod';

/**
 * `pasarela/driver`: what a driver author needs. The Driver interface and its
 * context (drivers/driver.ts), the errors that pick a device's answer, the value
 * converters and the profile helpers. Run a driver in a gateway with
 * `driverPlugin` from `pasarela`; docs/writing-a-driver.md walks through one.
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
export { ErrorCode, errors, PasarelaError, Status, type ErrorCodeValue, type StatusCode } from '../gateway/jstp/errors.js';
export { Backoff, type BackoffOptions } from '../gateway/jstp/backoff.js';
export { silentLogger, type Logger } from '../gateway/jstp/logger.js';
export {
  compose,
  converterSpecSchema,
  createConverter,
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
export { describeProfile, loadProfile, ProfileError, profileSchema, valueSchema, type Profile, type ProfileExtension } from './profile.js';

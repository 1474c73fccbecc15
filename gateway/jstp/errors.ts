/**
 * Every status and error code Pasarela emits, in one place. Callers compare codes,
 * never message strings.
 */

/** JSTP ANSWER statuses (JSTP 0.5, plus 0.6's 100 and 101). */
export const Status = {
  Acknowledge: 100,
  NoMoreAnswers: 101,
  Ok: 200,
  BadDispatch: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  UnboundEndpoint: 406,
  UnrecognizedTransport: 409,
  InternalError: 500,
  NotImplemented: 501,
  UnreachableHost: 502,
  InvalidHost: 503,
  Timeout: 504,
  VersionNotSupported: 505,
  GatewayDisabled: 506,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

export const statusText: Readonly<Record<number, string>> = {
  100: 'Acknowledge',
  101: 'No More Answers',
  200: 'Ok',
  400: 'Bad Dispatch',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Unbound Endpoint',
  409: 'Unrecognized Transport Protocol',
  500: 'Internal Error',
  501: 'Not Implemented',
  502: 'Unreachable Remote Host',
  503: 'Invalid Remote Host',
  504: 'Timeout',
  505: 'JSTP Version Not Supported',
  506: 'Gateway Disabled',
};

/** Codes for failures that are not JSTP answers (config, transports, links). */
export const ErrorCode = {
  BadDispatch: 'PASARELA_BAD_DISPATCH',
  BadPattern: 'PASARELA_BAD_PATTERN',
  AnswerStatus: 'PASARELA_ANSWER_STATUS',
  EngineClosed: 'PASARELA_ENGINE_CLOSED',
  ChannelClosed: 'PASARELA_CHANNEL_CLOSED',
  ChannelOverflow: 'PASARELA_CHANNEL_OVERFLOW',
  /** A peer stopped answering heartbeats (WebSocket ping/pong). */
  PeerTimeout: 'PASARELA_PEER_TIMEOUT',
  /** An outbound connection could not be made (status 502). */
  Unreachable: 'PASARELA_UNREACHABLE',
  FrameTooLarge: 'PASARELA_FRAME_TOO_LARGE',
  InvalidJson: 'PASARELA_INVALID_JSON',
  DecodeError: 'PASARELA_DECODE_ERROR',
  Config: 'PASARELA_CONFIG',
  Forwarding: 'PASARELA_FORWARDING',
  /** A device profile failed validation (the message names the profile and the field). */
  Profile: 'PASARELA_PROFILE',
  /** A converter could not turn raw device data into a value, or a value into raw data. */
  Convert: 'PASARELA_CONVERT',
  /** No such device, property, action or event (status 404). */
  DeviceNotFound: 'PASARELA_DEVICE_NOT_FOUND',
  /** The device is offline or its link (broker, port, radio) is down (status 502). */
  DeviceOffline: 'PASARELA_DEVICE_OFFLINE',
  /** A PUT on a property that is not writable (status 403). */
  ReadOnly: 'PASARELA_READ_ONLY',
  /** A value or action input that does not fit its schema (status 400). */
  BadValue: 'PASARELA_BAD_VALUE',
  /** The device did not answer before the deadline (status 504). */
  DeviceTimeout: 'PASARELA_DEVICE_TIMEOUT',
  /** The device or driver does not support this operation (status 501). */
  NotSupported: 'PASARELA_NOT_SUPPORTED',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a stable code and, where it maps to one, a JSTP status. */
export class PasarelaError extends Error {
  readonly code: ErrorCodeValue;
  readonly status: number | undefined;

  constructor(code: ErrorCodeValue, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PasarelaError';
    this.code = code;
    this.status = options?.status;
  }
}

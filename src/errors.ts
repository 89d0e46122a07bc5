/**
 * One registry of error codes. Codes are stable: never reuse or rename one, because
 * dashboards, alerts and the WebSocket close reasons carry them.
 */
export const ErrorCodes = {
  PB_ERR_CONFIG: 'invalid or missing configuration',
  PB_ERR_LIVEKIT_SERVER_BIN: 'livekit-server binary unavailable',
  PB_ERR_LIVEKIT_START: 'local livekit-server failed to start',
  PB_ERR_LIVEKIT_UNREACHABLE: 'LiveKit is unreachable',
  PB_ERR_LIVEKIT_AUTH: 'LiveKit rejected the API key or secret',
  PB_ERR_ROOM_CREATE: 'room creation failed',
  PB_ERR_DISPATCH: 'agent dispatch failed',
  PB_ERR_REDIS_START: 'local redis-server failed to start',
  PB_ERR_SIP_PROVISIONING:
    'SIP trunk or dispatch rule missing, different from the configuration, or refused',
  PB_ERR_SIGNATURE: 'Twilio signature missing or invalid',
  PB_ERR_BAD_REQUEST: 'request failed validation',
  PB_ERR_CAPACITY: 'at capacity',
  PB_ERR_DRAINING: 'draining for shutdown',
  PB_ERR_UNKNOWN_CALL: 'no admitted call matches',
  PB_ERR_STREAM_PROTOCOL: 'media stream protocol violation',
  PB_ERR_AGENT_TIMEOUT: 'agent did not join in time',
  PB_ERR_RECONNECT_TIMEOUT: 'LiveKit connection did not come back in time',
  PB_ERR_OPENAI_AUTH: 'OpenAI rejected the API key',
  PB_ERR_OPENAI: 'OpenAI request failed',
  PB_ERR_SIM: 'simulated call failed',
  PB_ERR_WAV: 'unreadable WAV audio',
  PB_ERR_ENGINE: 'the media engine could not be built or started',
  PB_ERR_ENGINE_UNAVAILABLE: 'the media engine is not running',
  PB_ERR_API_AUTH: 'API key missing or wrong',
  PB_ERR_NUMBER_NOT_ALLOWED: 'number outside OUTBOUND_ALLOWED_PREFIXES',
  PB_ERR_IDEMPOTENCY: 'Idempotency-Key reused for a different request',
  PB_ERR_TWILIO_REST: 'Twilio REST API request failed',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The project's one error type: a stable code, a human message and the original cause. */
export class PbError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PbError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

export function isPbError(err: unknown, code?: ErrorCode): err is PbError {
  return err instanceof PbError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, for logs and start-up failures. */
export function describeError(err: unknown): string {
  if (err instanceof PbError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

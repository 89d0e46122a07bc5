import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log object. Secrets never reach a log;
 * phone numbers are masked by `maskPhone` at the call site instead, so the last
 * digits stay useful for support.
 */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'authToken',
  '*.authToken',
  'apiKey',
  '*.apiKey',
  'apiSecret',
  '*.apiSecret',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'config.TWILIO_AUTH_TOKEN',
  'config.LIVEKIT_API_SECRET',
  'config.OPENAI_API_KEY',
  'config.SIP_PASSWORD',
  'config.PHONEBRIDGE_API_KEY',
  'TWILIO_AUTH_TOKEN',
  'LIVEKIT_API_SECRET',
  'OPENAI_API_KEY',
  'SIP_PASSWORD',
  'PHONEBRIDGE_API_KEY',
];

export interface LoggerSettings {
  level?: string;
  name?: string;
  destination?: pino.DestinationStream;
}

/** The process's root logger: JSON lines, secrets redacted. Children per call add `callSid`. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { name: settings.name ?? 'phonebridge' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** `+15551234567` → `+1555***4567`: enough to tell calls apart, not enough to dial. */
export function maskPhone(value: string | undefined): string {
  if (!value) return 'unknown';
  if (!/^\+?\d{5,}$/.test(value)) return value.length > 4 ? `${value.slice(0, 2)}***` : '***';
  const keep = value.length >= 10 ? 4 : 2;
  return `${value.slice(0, Math.max(0, value.length - 7))}***${value.slice(-keep)}`;
}

import { PbError } from '../errors.js';
import type { TroubleOptions } from './media-sender.js';
import type { AudioSourceSpec } from './sources.js';

/** Parses "3s", "4.5s", "250ms" or a bare number of seconds into ms. */
export function parseDurationMs(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m)
    throw new PbError(
      'PB_ERR_SIM',
      `${what}: expected a time such as 3s, 4.5s or 250ms, got '${text}'`,
    );
  const v = Number(m[1]);
  return m[2] === 'ms' ? v : v * 1000;
}

/** Parses a non-negative number option. */
export function parseNumber(
  text: string | undefined,
  what: string,
  fallback: number,
  min = 0,
): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < min)
    throw new PbError('PB_ERR_SIM', `${what}: expected a number ≥ ${min}, got '${text}'`);
  return v;
}

/** `1@3s,2@4.5s` → DTMF presses. */
export function parseDtmf(text: string): { digit: string; atMs: number }[] {
  return text
    .split(',')
    .filter(Boolean)
    .map((item) => {
      const m = /^([0-9*#A-D])@(.+)$/.exec(item.trim());
      if (!m)
        throw new PbError('PB_ERR_SIM', `--dtmf: expected DIGIT@TIME such as 1@3s, got '${item}'`);
      return { digit: m[1]!, atMs: parseDurationMs(m[2]!, '--dtmf') };
    });
}

export interface SourceFlags {
  wav?: string | undefined;
  say?: string | undefined;
  voice?: string | undefined;
  tone?: string | undefined;
}

/** The caller-audio flags (at most one of --wav, --say, --tone); undefined when none. */
export function sourceFromFlags(f: SourceFlags, toneMs: number): AudioSourceSpec | undefined {
  const given = [f.wav, f.say, f.tone].filter((v) => v !== undefined).length;
  if (given > 1) throw new PbError('PB_ERR_SIM', 'give at most one of --wav, --say and --tone');
  if (f.wav !== undefined) return { kind: 'wav', path: f.wav };
  if (f.say !== undefined)
    return { kind: 'say', text: f.say, ...(f.voice !== undefined && { voice: f.voice }) };
  if (f.tone !== undefined)
    return { kind: 'tone', freqHz: parseNumber(f.tone, '--tone', 440, 20), durationMs: toneMs };
  return undefined;
}

export interface TroubleFlags {
  jitter?: string | undefined;
  loss?: string | undefined;
  burst?: boolean | undefined;
  dtmf?: string | undefined;
}

/** Burst stalls start 2 s into the stream and repeat every 5 s, each holding 500 ms. */
export const BURST_FIRST_MS = 2000;
export const BURST_EVERY_MS = 5000;
export const BURST_HOLD_MS = 500;

/** The trouble-injection flags; `streamMs` bounds how many bursts are planned. */
export function troubleFromFlags(f: TroubleFlags, streamMs: number): TroubleOptions | undefined {
  const t: TroubleOptions = {};
  if (f.jitter !== undefined) t.jitterMs = parseNumber(f.jitter, '--jitter', 0);
  if (f.loss !== undefined) {
    t.lossPct = parseNumber(f.loss, '--loss', 0);
    if (t.lossPct > 100) throw new PbError('PB_ERR_SIM', '--loss: a percentage, at most 100');
  }
  if (f.burst) {
    const atMs: number[] = [];
    for (let at = BURST_FIRST_MS; at < streamMs; at += BURST_EVERY_MS) atMs.push(at);
    t.bursts = { atMs, holdMs: BURST_HOLD_MS };
  }
  if (f.dtmf !== undefined) t.dtmf = parseDtmf(f.dtmf);
  return Object.keys(t).length ? t : undefined;
}

/** The auth token from the flag or TWILIO_AUTH_TOKEN, with every way to fix its absence. */
export function requireAuthToken(flag: string | undefined): string {
  const token = flag ?? process.env.TWILIO_AUTH_TOKEN;
  if (!token)
    throw new PbError(
      'PB_ERR_SIM',
      'no Twilio auth token: set TWILIO_AUTH_TOKEN (the same value phonebridge uses), or pass --auth-token',
    );
  return token;
}

/** The `parseArgs` options every simulated caller takes: target, caller audio, trouble, output. */
export const CALLER_FLAGS = {
  url: { type: 'string' },
  'public-url': { type: 'string' },
  'auth-token': { type: 'string' },
  wav: { type: 'string' },
  say: { type: 'string' },
  voice: { type: 'string' },
  tone: { type: 'string' },
  listen: { type: 'string' },
  jitter: { type: 'string' },
  loss: { type: 'string' },
  burst: { type: 'boolean' },
  dtmf: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface TargetFlags {
  url?: string | undefined;
  'public-url'?: string | undefined;
  'auth-token'?: string | undefined;
}

/** Where the simulated Twilio posts, the URL it signs for, and the token it signs with. */
export function targetFromFlags(f: TargetFlags): {
  url: string;
  publicUrl: string;
  authToken: string;
} {
  const url = f.url ?? 'http://127.0.0.1:8000';
  return {
    url,
    publicUrl: f['public-url'] ?? process.env.PUBLIC_URL ?? url,
    authToken: requireAuthToken(f['auth-token']),
  };
}

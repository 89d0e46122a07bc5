import type { Twilio } from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { TWILIO_API_DEFAULT_BASE_URL } from '../config/schema.js';

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /** TWILIO_API_BASE_URL: the simulator's emulation offline, Twilio itself by default. */
  baseUrl?: string;
  timeoutMs?: number;
}

/**
 * `https://api.twilio.com/2010-04-01/…` → `<baseUrl>/2010-04-01/…`. The client builds every
 * URL from its domains' base (`api.twilio.com` for Calls) and then applies TWILIO_REGION /
 * TWILIO_EDGE to the host, so the origin is swapped last, on the way out: every request the
 * client makes (create, hang-up, redirect) goes to `baseUrl`, whatever region is set.
 */
export function rebaseTwilioUrl(uri: string, baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  if (base === TWILIO_API_DEFAULT_BASE_URL) return uri;
  const u = new URL(uri);
  return `${base}${u.pathname}${u.search}`;
}

/**
 * The official client, loaded on first use (it is large). Only 429s are retried (the
 * client's autoRetry): a create that timed out is never sent again, because Twilio may
 * already be dialling it.
 */
export async function createTwilioClient(opts: TwilioClientOptions): Promise<Twilio> {
  const { default: twilio } = await import('twilio');
  const baseUrl = opts.baseUrl ?? TWILIO_API_DEFAULT_BASE_URL;
  class RebasingClient extends twilio.RequestClient {
    override request<TData>(o: RequestClient.RequestOptions<TData>) {
      return super.request<TData>({ ...o, uri: rebaseTwilioUrl(o.uri, baseUrl) });
    }
  }
  const httpClient = new RebasingClient({
    timeout: opts.timeoutMs ?? 5000,
    autoRetry: true,
    maxRetries: 2,
  });
  return twilio(opts.accountSid, opts.authToken, { httpClient });
}

/** What a failed REST request told us, whatever layer failed (HTTP status, Twilio's code). */
export interface TwilioFailure {
  /** The HTTP status Twilio answered, or undefined when it could not be reached. */
  status?: number;
  /** Twilio's error code (21211 invalid number, 21215 geo permissions, …). */
  code?: number;
  message: string;
}

export function twilioFailure(err: unknown): TwilioFailure {
  const e = err as { status?: unknown; code?: unknown; message?: unknown } | null;
  return {
    ...(typeof e?.status === 'number' && { status: e.status }),
    ...(typeof e?.code === 'number' && { code: e.code }),
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
}

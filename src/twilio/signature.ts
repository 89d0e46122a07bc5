import twilio from 'twilio';

/** The parts of a request needed to rebuild the URL Twilio signed. */
export interface RequestUrlParts {
  /** Path and query as received, e.g. `/incoming-call?x=1`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** `http` or `https` as seen by this server (behind a proxy usually `http`). */
  protocol: string;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  // X-Forwarded-* may hold a comma list when several proxies append; the first is the client-facing one.
  return s?.split(',')[0]?.trim() || undefined;
}

/**
 * The public base URL Twilio used: PUBLIC_URL when configured (the only reliable
 * answer behind a proxy or tunnel), else rebuilt from X-Forwarded-Proto/Host or Host.
 */
export function publicBaseUrl(
  publicUrl: string | undefined,
  req: Omit<RequestUrlParts, 'url'>,
): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const proto = firstHeader(req.headers['x-forwarded-proto']) ?? req.protocol;
  const host =
    firstHeader(req.headers['x-forwarded-host']) ?? firstHeader(req.headers.host) ?? 'localhost';
  return `${proto}://${host}`;
}

/** The full URL Twilio signed for an HTTP webhook. */
export function signedHttpUrl(publicUrl: string | undefined, req: RequestUrlParts): string {
  return `${publicBaseUrl(publicUrl, req)}${req.url}`;
}

/**
 * http(s)://host/path → wss://host/path. Twilio only opens Media Streams over wss://,
 * and signs the upgrade over the URL from our TwiML, so both use this one mapping,
 * even when this server itself sees plain ws:// behind a TLS-terminating proxy.
 */
export function toWebSocketUrl(httpUrl: string): string {
  return httpUrl.replace(/^https?:\/\//, 'wss://');
}

/** Validates X-Twilio-Signature with the official package (constant-time compare, port variants). */
export function isValidTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string>,
): boolean {
  if (!signature) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}

/** The signature Twilio would send: used by the simulator and tests. */
export function twilioSignature(
  authToken: string,
  url: string,
  params: Record<string, string> = {},
): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

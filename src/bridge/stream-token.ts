import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The per-call stream token: an HMAC over the CallSid, room and expiry, passed to
 * Twilio as a `<Parameter>` and returned in the stream's `start` message. It proves
 * the stream belongs to a call a webhook admitted, without shared state, so a
 * stream that lands on another instance can still be verified.
 */
/**
 * How long a stream token stays valid: the wait for the stream to start, plus a minute for
 * Twilio's own retries. Ended calls are remembered this long (EndedCalls), plus clock skew.
 */
export function streamTokenLifetimeMs(streamStartTimeoutMs: number): number {
  return streamStartTimeoutMs + 60_000;
}

export function issueStreamToken(
  secret: string,
  callSid: string,
  room: string,
  expiresAtMs: number,
): string {
  const exp = Math.floor(expiresAtMs / 1000).toString(36);
  return `${exp}.${mac(secret, callSid, room, exp)}`;
}

export type StreamTokenCheck = { ok: true } | { ok: false; reason: string };

export function verifyStreamToken(
  secret: string,
  token: string | undefined,
  callSid: string,
  room: string,
  nowMs = Date.now(),
): StreamTokenCheck {
  if (!token) return { ok: false, reason: 'missing stream token' };
  const [exp, sig] = token.split('.');
  if (!exp || !sig || !/^[0-9a-z]{1,12}$/.test(exp))
    return { ok: false, reason: 'malformed stream token' };
  const expected = Buffer.from(mac(secret, callSid, room, exp));
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'stream token does not match this call' };
  }
  if (parseInt(exp, 36) * 1000 < nowMs) return { ok: false, reason: 'stream token expired' };
  return { ok: true };
}

function mac(secret: string, callSid: string, room: string, exp: string): string {
  return createHmac('sha256', secret).update(`${callSid}\n${room}\n${exp}`).digest('base64url');
}

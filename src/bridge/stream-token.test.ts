import { describe, expect, it } from 'vitest';
import { issueStreamToken, streamTokenLifetimeMs, verifyStreamToken } from './stream-token.js';
import { EndedCalls } from './ended-calls.js';

const SECRET = 'phonebridge-stream-token:secret';
const SID = 'CA' + '1'.repeat(32);
const ROOM = `call-${SID}`;
const T0 = 1_700_000_000_000;

describe('stream token', () => {
  const expiresAt = T0 + streamTokenLifetimeMs(15_000);
  const token = issueStreamToken(SECRET, SID, ROOM, expiresAt);

  it('is accepted for its call until it expires, and refused from then on', () => {
    expect(verifyStreamToken(SECRET, token, SID, ROOM, T0)).toEqual({ ok: true });
    // Expiry has one-second resolution, rounded down.
    const lastValid = Math.floor(expiresAt / 1000) * 1000;
    expect(verifyStreamToken(SECRET, token, SID, ROOM, lastValid)).toEqual({ ok: true });
    expect(verifyStreamToken(SECRET, token, SID, ROOM, lastValid + 1)).toEqual({
      ok: false,
      reason: 'stream token expired',
    });
    expect(verifyStreamToken(SECRET, token, SID, ROOM, T0 + 3_600_000).ok).toBe(false);
  });

  it('lives for the stream-start wait plus a minute of Twilio retries', () => {
    expect(streamTokenLifetimeMs(15_000)).toBe(75_000);
  });

  it('cannot be moved to another call, room or expiry, nor made with another secret', () => {
    const other = 'CA' + '2'.repeat(32);
    const check = (t: string, sid = SID, room = ROOM) =>
      verifyStreamToken(SECRET, t, sid, room, T0);
    expect(check(token, other)).toMatchObject({ ok: false, reason: /does not match/ });
    expect(check(token, SID, `call-${other}`)).toMatchObject({ ok: false });
    const [, mac] = token.split('.');
    const later = Math.floor((T0 + 86_400_000) / 1000).toString(36);
    expect(check(`${later}.${mac}`)).toMatchObject({ ok: false, reason: /does not match/ });
    expect(check(issueStreamToken('another-secret', SID, ROOM, expiresAt))).toMatchObject({
      ok: false,
    });
    expect(check('')).toEqual({ ok: false, reason: 'missing stream token' });
    expect(check('nodot')).toEqual({ ok: false, reason: 'malformed stream token' });
    expect(check('ZZ!.abc')).toEqual({ ok: false, reason: 'malformed stream token' });
  });
});

describe('EndedCalls', () => {
  it('remembers an ended call for as long as its token could be used, then forgets it', () => {
    let now = T0;
    const ended = new EndedCalls(streamTokenLifetimeMs(15_000), () => now);
    ended.add(SID);
    expect(ended.has(SID)).toBe(true);
    expect(ended.has('CA' + '3'.repeat(32))).toBe(false);
    now += 74_999;
    expect(ended.has(SID)).toBe(true);
    now += 1;
    expect(ended.has(SID)).toBe(false);
    expect(ended.size).toBe(0);
  });
});

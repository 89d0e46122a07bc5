import { describe, expect, it } from 'vitest';
import { parseSipUri, sipCallUri, sipDialUri } from './sip-uri.js';

const SID = 'CA' + 'ab'.repeat(16);

describe('sipDialUri', () => {
  it('puts the transport parameter before the headers, as RFC 3261 orders them', () => {
    expect(
      sipDialUri({
        user: `call-${SID}`,
        host: 'abc.sip.livekit.cloud',
        transport: 'tcp',
        headers: { 'X-Phonebridge-CallSid': SID },
      }),
    ).toBe(`sip:call-${SID}@abc.sip.livekit.cloud;transport=tcp?X-Phonebridge-CallSid=${SID}`);
  });

  it("leaves UDP, Twilio's default, without a parameter, and keeps a port", () => {
    expect(sipDialUri({ user: 'call-x', host: '203.0.113.7:5070', transport: 'udp' })).toBe(
      'sip:call-x@203.0.113.7:5070',
    );
    expect(sipDialUri({ user: 'call-x', host: 'h', transport: 'tls' })).toBe(
      'sip:call-x@h;transport=tls',
    );
  });

  it('escapes what would end a header value or the URI, and the value comes back intact', () => {
    const from = 'sip:alice@example.com;user=phone&x=1 y';
    const uri = sipDialUri({
      user: 'call-x',
      host: 'h',
      transport: 'tcp',
      headers: { 'X-Phonebridge-From': from, 'X-Phonebridge-To': '+15557654321' },
    });
    expect(uri).toContain('X-Phonebridge-From=sip:alice%40example.com%3Buser%3Dphone%26x%3D1%20y');
    expect(uri).toContain('X-Phonebridge-To=+15557654321'); // '+' is allowed as is in hvalue
    expect(parseSipUri(uri).headers).toEqual({
      'X-Phonebridge-From': from,
      'X-Phonebridge-To': '+15557654321',
    });
  });

  it('escapes a user part so it can never turn into parameters or headers', () => {
    const uri = sipDialUri({ user: 'a;b?c@d', host: 'h', transport: 'tcp' });
    expect(uri).toBe('sip:a%3Bb%3Fc%40d@h;transport=tcp');
    expect(parseSipUri(uri).user).toBe('a;b?c@d');
  });

  it('refuses a header Twilio would not pass on (custom headers must start with X-)', () => {
    expect(() =>
      sipDialUri({ user: 'u', host: 'h', transport: 'tcp', headers: { CallSid: SID } }),
    ).toThrow(/not a custom SIP header/);
  });
});

describe('sipCallUri', () => {
  it("dials the call's room and carries CallSid, caller and called number as X- headers", () => {
    const uri = sipCallUri(
      { LIVEKIT_SIP_HOST: 'abc.sip.livekit.cloud', SIP_TRANSPORT: 'tcp' },
      `call-${SID}`,
      { CallSid: SID, From: '+15551234567', To: '+15557654321' },
    );
    const parsed = parseSipUri(uri);
    expect(parsed).toEqual({
      user: `call-${SID}`,
      host: 'abc.sip.livekit.cloud',
      params: { transport: 'tcp' },
      headers: {
        'X-Phonebridge-CallSid': SID,
        'X-Phonebridge-From': '+15551234567',
        'X-Phonebridge-To': '+15557654321',
      },
    });
  });

  it('leaves out a caller Twilio did not send', () => {
    const uri = sipCallUri({ LIVEKIT_SIP_HOST: 'h', SIP_TRANSPORT: 'udp' }, 'call-x', {
      CallSid: SID,
      From: '',
      To: '+15557654321',
    });
    expect(Object.keys(parseSipUri(uri).headers)).toEqual([
      'X-Phonebridge-CallSid',
      'X-Phonebridge-To',
    ]);
  });
});

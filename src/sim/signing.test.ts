import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { joinUrl, signFormPost, signWebSocketUrl } from './signing.js';

const token = '0123456789abcdef0123456789abcdef';

describe('signing', () => {
  it('signs a form POST so that twilio.validateRequest accepts it', () => {
    const url = 'https://pb.example.com/incoming-call';
    const params = { CallSid: 'CA' + '1'.repeat(32), From: '+15555550100', To: '+15555550199' };
    const sig = signFormPost(token, url, params);
    expect(twilio.validateRequest(token, sig, url, params)).toBe(true);
    expect(twilio.validateRequest(token, sig, url, { ...params, From: '+1666' })).toBe(false);
    expect(twilio.validateRequest('another-token-000000', sig, url, params)).toBe(false);
  });

  it('signs a Media Stream wss URL with no parameters', () => {
    const url = 'wss://pb.example.com/media-stream';
    const sig = signWebSocketUrl(token, url);
    expect(twilio.validateRequest(token, sig, url, {})).toBe(true);
    expect(twilio.validateRequest(token, sig, 'wss://other.example.com/media-stream', {})).toBe(
      false,
    );
  });

  it('joins base URLs and paths without doubled slashes', () => {
    expect(joinUrl('http://h:8000/', '/incoming-call')).toBe('http://h:8000/incoming-call');
    expect(joinUrl('https://h/pb', 'call-status')).toBe('https://h/pb/call-status');
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig, requireSettings } from './load.js';
import { isPbError } from '../errors.js';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (isPbError(err, 'PB_ERR_CONFIG')) return err.message;
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8000);
    expect(c.HOST).toBe('0.0.0.0');
    expect(c.MAX_CONCURRENT_CALLS).toBe(150);
    expect(c.TOKEN_TTL_SECONDS).toBe(3600);
    expect(c.VAD_THRESHOLD).toBe(0.7);
    expect(c.SILENCE_DURATION_MS).toBe(400);
    expect(c.AGENT_NAME).toBe('phonebridge-agent');
    expect(c.AGENT_MODE).toBe('echo');
    expect(c.TWILIO_VALIDATE_SIGNATURE).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('treats empty values as unset', () => {
    const c = loadConfig({ PORT: '', OPENAI_API_KEY: '  ', LIVEKIT_URL: '' });
    expect(c.PORT).toBe(8000);
    expect(c.OPENAI_API_KEY).toBeUndefined();
  });

  it('defaults to openai mode when a key is set', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk-test-123456' }).AGENT_MODE).toBe('openai');
  });

  it('reads TRUST_PROXY as off, a hop count or a list of proxies, and refuses trusting everyone', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'off' }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, loopback,::1' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
    expect(configError({ TRUST_PROXY: 'true' })).toMatch(/TRUST_PROXY must be off, a hop count/);
    expect(configError({ TRUST_PROXY: '10.0.0.0/33' })).toMatch(/not 10\.0\.0\.0\/33/);
    expect(configError({ TRUST_PROXY: 'proxy.example.com' })).toMatch(/TRUST_PROXY/);
  });

  it('reports every bad variable in one message', () => {
    const msg = configError({
      PORT: 'eighty',
      MAX_CONCURRENT_CALLS: '0',
      LIVEKIT_URL: 'not a url',
      VAD_THRESHOLD: '2',
    });
    expect(msg).toMatch(/PORT must be a number/);
    expect(msg).toMatch(/MAX_CONCURRENT_CALLS must be at least 1/);
    expect(msg).toMatch(/LIVEKIT_URL must be a URL/);
    expect(msg).toMatch(/VAD_THRESHOLD must be between 0 and 1/);
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('never echoes a secret value in its error', () => {
    const msg = configError({
      TWILIO_AUTH_TOKEN: 'Zq9secret',
      LIVEKIT_API_SECRET: 'Xk7',
      PORT: 'Zq9',
    });
    expect(msg).toMatch(/TWILIO_AUTH_TOKEN/);
    expect(msg).toMatch(/LIVEKIT_API_SECRET/);
    expect(msg).not.toMatch(/Zq9|Xk7/);
  });

  it('requires LiveKit credentials together', () => {
    expect(configError({ LIVEKIT_URL: 'ws://127.0.0.1:7880' })).toMatch(/go together/);
  });

  it('names the missing variable a command needs, and why', () => {
    const c = loadConfig({});
    expect(() => requireSettings(c, ['livekit'])).toThrow(/LIVEKIT_URL is not set/);
    expect(() => requireSettings(c, ['twilio-signature'])).toThrow(/TWILIO_AUTH_TOKEN is not set/);
    const off = loadConfig({ TWILIO_VALIDATE_SIGNATURE: 'false' });
    expect(() => requireSettings(off, ['twilio-signature'])).not.toThrow();
  });

  it('parses the transfer allow-list', () => {
    expect(
      loadConfig({ TRANSFER_ALLOWLIST: '+15551234567, +442071234567' }).TRANSFER_ALLOWLIST,
    ).toEqual(['+15551234567', '+442071234567']);
    expect(configError({ TRANSFER_ALLOWLIST: '5551234' })).toMatch(/E\.164/);
  });

  it('parses SIP allowed addresses and refuses what LiveKit would silently ignore', () => {
    expect(
      loadConfig({ SIP_ALLOWED_ADDRESSES: '54.172.60.0/30, 203.0.113.5,2001:db8::/32' })
        .SIP_ALLOWED_ADDRESSES,
    ).toEqual(['54.172.60.0/30', '203.0.113.5', '2001:db8::/32']);
    expect(configError({ SIP_ALLOWED_ADDRESSES: '54.172.60.0/33' })).toMatch(/IP address or CIDR/);
    expect(configError({ SIP_ALLOWED_ADDRESSES: 'twilio.com' })).toMatch(/IP address or CIDR/);
  });

  it('in SIP mode, wants the trunk restricted, a bare SIP host, and a password worth having', () => {
    const sip = { BRIDGE_MODE: 'sip', LIVEKIT_SIP_HOST: 'abc.sip.livekit.cloud' };
    expect(configError(sip)).toMatch(/SIP_USERNAME\/SIP_PASSWORD or SIP_ALLOWED_ADDRESSES/);
    expect(loadConfig({ ...sip, SIP_ALLOWED_ADDRESSES: '54.172.60.0/30' }).BRIDGE_MODE).toBe('sip');
    expect(
      loadConfig({ ...sip, SIP_USERNAME: 'twilio', SIP_PASSWORD: 'long-enough-secret' })
        .SIP_USERNAME,
    ).toBe('twilio');
    const short = configError({ ...sip, SIP_USERNAME: 'twilio', SIP_PASSWORD: 'Qw7short' });
    expect(short).toMatch(/SIP_PASSWORD must be at least 12 characters/);
    expect(short).not.toContain('Qw7short');
    expect(configError({ SIP_PASSWORD: 'long-enough-secret' })).toMatch(/SIP_USERNAME is required/);
    expect(
      configError({ ...sip, LIVEKIT_SIP_HOST: 'sip:abc.sip.livekit.cloud;transport=tcp' }),
    ).toMatch(/LIVEKIT_SIP_HOST must be a host name/);
    expect(loadConfig({ LIVEKIT_SIP_HOST: '203.0.113.7:5060' }).LIVEKIT_SIP_HOST).toBe(
      '203.0.113.7:5060',
    );
    const c = loadConfig({});
    expect(() => requireSettings(c, ['sip-trunk'])).toThrow(/SIP_ALLOWED_ADDRESSES/);
  });

  it('configures the outbound API: keys (rotatable), allowed prefixes, and what it needs to dial', () => {
    const key = 'k'.repeat(24);
    const twilio = { TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32), TWILIO_AUTH_TOKEN: 't'.repeat(32) };
    const c = loadConfig({
      ...twilio,
      PHONEBRIDGE_API_KEY: `${key}, ${'n'.repeat(30)}`,
      OUTBOUND_ALLOWED_PREFIXES: '+1, +4420',
    });
    expect(c.PHONEBRIDGE_API_KEY).toEqual([key, 'n'.repeat(30)]);
    expect(c.OUTBOUND_ALLOWED_PREFIXES).toEqual(['+1', '+4420']);
    expect(c.TWILIO_API_BASE_URL).toBe('https://api.twilio.com');
    expect(loadConfig({}).OUTBOUND_ALLOWED_PREFIXES).toEqual([]);
    expect(configError({ PHONEBRIDGE_API_KEY: key })).toMatch(
      /PHONEBRIDGE_API_KEY enables the outbound-call API.*TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/,
    );
    const short = configError({ ...twilio, PHONEBRIDGE_API_KEY: 'Zq9short' });
    expect(short).toMatch(/PHONEBRIDGE_API_KEY\S* each key must be 24-256 printable characters/);
    expect(short).not.toMatch(/Zq9/);
    expect(configError({ OUTBOUND_ALLOWED_PREFIXES: '1555' })).toMatch(/E\.164 prefix/);
    expect(configError({ TWILIO_FROM_NUMBER: '555-0100' })).toMatch(
      /TWILIO_FROM_NUMBER must be an E\.164/,
    );
  });
});

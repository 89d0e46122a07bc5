import { afterAll, beforeAll } from 'vitest';
import { SipClient } from 'livekit-server-sdk';
import { LocalLiveKit } from '../../src/livekit/local.js';

export const SIP_ENV = {
  SIP_USERNAME: 'twilio-to-livekit',
  SIP_PASSWORD: 'sip-password-9f3c1e7a',
  SIP_ALLOWED_ADDRESSES: '54.172.60.0/30',
  LIVEKIT_SIP_HOST: 'abc123.sip.livekit.cloud',
  SIP_TRANSPORT: 'tcp',
} as const;

/**
 * A livekit-server of this file's own, with a throwaway redis-server so its SIP API works
 * (the run's shared server has no Redis, and SIP state would leak between files).
 */
export function useSipLiveKit(): () => LocalLiveKit {
  let lk: LocalLiveKit | undefined;
  beforeAll(async () => {
    lk = await LocalLiveKit.start({ sip: true });
  });
  afterAll(async () => {
    await lk?.stop();
  });
  return () => lk!;
}

export function sipClient(lk: { httpUrl: string; apiKey: string; apiSecret: string }): SipClient {
  return new SipClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
}

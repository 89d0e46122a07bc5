import { afterAll, beforeAll, describe } from 'vitest';
import { SipClient } from 'livekit-server-sdk';
import { LocalLiveKit } from '../../src/livekit/local.js';
import { hasRedisServer } from '../../src/livekit/redis-server.js';

/**
 * `describe`, or, when redis-server is not installed outside CI, `describe.skip` with one
 * line saying which package to install. Under CI=true the tests run and fail on start-up:
 * CI installs the package, so a missing one is a broken CI machine.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (!hasRedisServer() && process.env.CI !== 'true') {
    console.warn(`skipping "${name}": redis-server is not installed (Debian package redis-server)`);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}

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

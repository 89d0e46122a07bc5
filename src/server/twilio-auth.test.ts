import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { twilioSignature } from '../twilio/signature.js';
import { buildServer } from './app.js';
import { FakeMediaLeg } from '../../test/helpers/fake-media-leg.js';

const LIVEKIT = {
  // Nothing listens there: building the server does not reach LiveKit.
  LIVEKIT_URL: 'ws://127.0.0.1:9',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret-0123456789abcdef0123456789',
};
const log = createLogger({ level: 'silent' });

describe('Twilio signature check', () => {
  it('refuses to build a server that would check signatures without TWILIO_AUTH_TOKEN', async () => {
    const config = loadConfig(LIVEKIT);
    await expect(buildServer({ media: new FakeMediaLeg(), config, log })).rejects.toThrow(
      /^TWILIO_AUTH_TOKEN is not set/,
    );
  });

  it('refuses what the empty key signs once a token is set, and accepts the token', async () => {
    const token = 'test-auth-token-0123456789abcdef';
    const { app } = await buildServer({
      media: new FakeMediaLeg(),
      config: loadConfig({ ...LIVEKIT, TWILIO_AUTH_TOKEN: token }),
      log,
    });
    try {
      const post = (key: string) =>
        app.inject({
          method: 'POST',
          url: '/call-status',
          headers: {
            host: 'pb.example.com',
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': twilioSignature(key, 'http://pb.example.com/call-status', {
              CallSid: 'CA' + '0'.repeat(32),
            }),
          },
          payload: `CallSid=CA${'0'.repeat(32)}`,
        });
      expect((await post('')).statusCode).toBe(403);
      expect((await post(token)).statusCode).not.toBe(403);
    } finally {
      await app.close();
    }
  });

  it('builds without a token when validation is explicitly off', async () => {
    const { app } = await buildServer({
      media: new FakeMediaLeg(),
      config: loadConfig({ ...LIVEKIT, TWILIO_VALIDATE_SIGNATURE: 'false' }),
      log,
    });
    await app.close();
  });
});

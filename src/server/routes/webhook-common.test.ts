import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { twilioSignature } from '../../twilio/signature.js';
import { buildServer, type PhonebridgeServer } from '../app.js';
import { FakeMediaLeg } from '../../../test/helpers/fake-media-leg.js';

const TOKEN = 'test-auth-token-0123456789abcdef';
const SID = 'CA' + 'a'.repeat(32);
const env = {
  LIVEKIT_URL: 'ws://127.0.0.1:9', // never reached: these requests stop before LiveKit
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret-0123456789abcdef0123456789',
  TWILIO_AUTH_TOKEN: TOKEN,
};

async function server(extra: Record<string, string> = {}): Promise<PhonebridgeServer> {
  return buildServer({
    media: new FakeMediaLeg(),
    config: loadConfig({ ...env, ...extra }),
    log: createLogger({ level: 'silent' }),
  });
}

/** A POST as Twilio makes it; `signedParams` is what the signature covers (null: unsigned). */
function post(
  pb: PhonebridgeServer,
  path: string,
  body: string,
  signedParams: Record<string, string> | null,
  contentType = 'application/x-www-form-urlencoded',
) {
  const headers: Record<string, string> = { host: 'pb.example.com', 'content-type': contentType };
  if (signedParams)
    headers['x-twilio-signature'] = twilioSignature(
      TOKEN,
      `http://pb.example.com${path}`,
      signedParams,
    );
  return pb.app.inject({ method: 'POST', url: path, headers, payload: body });
}

describe('webhook edge, in the order the checks run', () => {
  let pb: PhonebridgeServer;
  beforeAll(async () => {
    pb = await server();
  });
  afterAll(async () => {
    await pb.app.close();
  });

  it('refuses an unsigned body before it looks at its content type or fields', async () => {
    const json = await post(pb, '/call-status', '{"CallSid":"x"}', null, 'application/json');
    expect(json.statusCode).toBe(403);
    const twice = await post(pb, '/call-status', `CallSid=${SID}&CallSid=${SID}`, null);
    expect(twice.statusCode).toBe(403);
  });

  it('then refuses a signed body that is not a form, or gives a field twice', async () => {
    const json = await post(pb, '/call-status', '{}', {}, 'application/json');
    expect(json.statusCode).toBe(415);
    const twice = await post(pb, '/call-status', `CallSid=${SID}&CallSid=${SID}`, {
      CallSid: SID,
    });
    expect(twice.statusCode).toBe(400);
    expect(twice.body).toMatch(/duplicate parameter CallSid/);
  });

  it('does not serve /stream-status unless STREAM_STATUS_CALLBACK asks Twilio to call it', async () => {
    const params = { CallSid: SID, StreamEvent: 'stream-started' };
    const body = new URLSearchParams(params).toString();
    expect((await post(pb, '/stream-status', body, params)).statusCode).toBe(404);
    const on = await server({ STREAM_STATUS_CALLBACK: 'true' });
    try {
      expect((await post(on, '/stream-status', body, params)).statusCode).toBe(204);
    } finally {
      await on.app.close();
    }
  });
});

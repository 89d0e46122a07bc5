import { expect, it } from 'vitest';
import { DEV_SIP_USERNAME } from '../../src/cli/sip-stack.js';
import { startStack } from '../../src/cli/stack.js';
import { SipProvisioner, describeProblems } from '../../src/livekit/sip-provisioning.js';
import { createLogger } from '../../src/log.js';
import { parseSipUri } from '../../src/twilio/sip-uri.js';
import { callParams, callSid, parseTwimlXml, twilioPost } from '../helpers/phonebridge.js';
import { describeWithRedis } from '../helpers/sip.js';

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describeWithRedis('the `dev --sip` stack', () => {
  it('runs livekit-server with its own Redis, provisions SIP, answers <Dial><Sip>, and stops it all', async () => {
    const stack = await startStack({
      env: { HOST: '127.0.0.1', PORT: '0', AGENT_DISPATCH: 'false', DRAIN_TIMEOUT_MS: '0' },
      log: createLogger({ level: 'silent' }),
      sip: true,
    });
    const redisPid = stack.livekit?.redis?.pid;
    const livekitPid = stack.livekit?.pid;
    try {
      expect(alive(redisPid)).toBe(true);
      expect(stack.config.BRIDGE_MODE).toBe('sip');
      expect(stack.config.SIP_USERNAME).toBe(DEV_SIP_USERNAME);
      expect(stack.config.SIP_PASSWORD?.length).toBeGreaterThanOrEqual(12);
      const state = await new SipProvisioner(
        {
          url: stack.config.LIVEKIT_URL!,
          apiKey: stack.config.LIVEKIT_API_KEY!,
          apiSecret: stack.config.LIVEKIT_API_SECRET!,
        },
        stack.config,
      ).inspect();
      expect(describeProblems(state)).toBeUndefined();

      const sid = callSid();
      const res = await twilioPost(stack.url, '/incoming-call', callParams(sid), {
        token: stack.config.TWILIO_AUTH_TOKEN,
      });
      const sip = parseTwimlXml(await res.text()).Response.Dial.Sip;
      expect(sip['@username']).toBe(stack.config.SIP_USERNAME);
      expect(parseSipUri(sip['#text'])).toMatchObject({
        user: `call-${sid}`,
        host: '127.0.0.1:5060',
      });
    } finally {
      await stack.stop();
    }
    expect(alive(redisPid)).toBe(false);
    expect(alive(livekitPid)).toBe(false);
  });
});

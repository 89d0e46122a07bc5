import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SipProvisioner } from '../../src/livekit/sip-provisioning.js';
import { isOurRule, isOurTrunk, roomForCall, trunkMatches } from '../../src/livekit/sip-spec.js';
import { parseSipUri } from '../../src/twilio/sip-uri.js';
import { waitFor } from '../helpers/livekit.js';
import {
  AUTH_TOKEN,
  callParams,
  callSid,
  parseTwimlXml,
  startPhonebridge,
  testConfig,
  twilioPost,
  type TestServer,
} from '../helpers/phonebridge.js';
import { SIP_ENV, describeWithRedis, sipClient, useSipLiveKit } from '../helpers/sip.js';

const AGENT_NAME = 'sip-test-agent';

describeWithRedis('a webhook in SIP mode, after `phonebridge sip setup`', () => {
  const lk = useSipLiveKit();
  let pb: TestServer;
  let rooms: RoomServiceClient;
  let dispatch: AgentDispatchClient;
  const env = { ...SIP_ENV, BRIDGE_MODE: 'sip', AGENT_DISPATCH: 'true', AGENT_NAME };

  beforeAll(async () => {
    await new SipProvisioner(lk(), testConfig(lk(), env)).setup();
    pb = await startPhonebridge(env, lk());
    rooms = new RoomServiceClient(lk().httpUrl, lk().apiKey, lk().apiSecret);
    dispatch = new AgentDispatchClient(lk().httpUrl, lk().apiKey, lk().apiSecret);
  });
  // After hooks run in reverse: phonebridge stops before its livekit-server does.
  afterAll(async () => {
    await pb?.stop();
  });

  async function incoming(sid: string) {
    const res = await twilioPost(pb.url, '/incoming-call', callParams(sid));
    expect(res.status).toBe(200);
    const body = await res.text();
    const sip = parseTwimlXml(body).Response.Dial.Sip as Record<string, string>;
    return { body, sip, uri: parseSipUri(sip['#text']!) };
  }

  it('answers <Dial><Sip> with the URI, transport and credentials Twilio needs', async () => {
    const sid = callSid();
    const { sip, uri } = await incoming(sid);
    expect(sip['@username']).toBe(SIP_ENV.SIP_USERNAME);
    expect(sip['@password']).toBe(SIP_ENV.SIP_PASSWORD);
    expect(uri).toEqual({
      user: `call-${sid}`,
      host: SIP_ENV.LIVEKIT_SIP_HOST,
      params: { transport: 'tcp' },
      headers: {
        'X-Phonebridge-CallSid': sid,
        'X-Phonebridge-From': '+15551234567',
        'X-Phonebridge-To': '+15557654321',
      },
    });
    await twilioPost(pb.url, '/call-status', { ...callParams(sid), CallStatus: 'completed' });
  });

  it("creates the room LiveKit's own dispatch rule routes the INVITE into, with exactly our agent dispatched", async () => {
    const sid = callSid();
    const { sip, uri } = await incoming(sid);
    const room = `call-${sid}`;
    expect((await rooms.listRooms([room])).map((r) => r.name)).toEqual([room]);

    // What the SIP service will do with Twilio's INVITE, read from its own listing.
    const api = sipClient(lk());
    const trunk = (await api.listSipInboundTrunk()).find(isOurTrunk)!;
    const rule = (await api.listSipDispatchRule()).find(isOurRule)!;
    expect(trunkMatches(trunk, { toUser: uri.user, fromUser: '+15551234567' })).toBe(true);
    expect(trunk.authUsername).toBe(sip['@username']);
    expect(trunk.authPassword).toBe(sip['@password']);
    for (const header of Object.keys(uri.headers))
      expect(trunk.headersToAttributes).toHaveProperty(header);
    expect(rule.trunkIds).toContain(trunk.sipTrunkId);
    expect(roomForCall(rule, uri.user)).toBe(room);

    const dispatches = await dispatch.listDispatch(room);
    expect(dispatches.map((d) => d.agentName)).toEqual([AGENT_NAME]);
    expect(JSON.parse(dispatches[0]!.metadata)).toEqual({
      callSid: sid,
      from: '+15551234567',
      to: '+15557654321',
    });

    // Twilio retries a webhook it did not hear back from: same answer, no second agent.
    const again = await incoming(sid);
    expect(again.sip['#text']).toBe(sip['#text']);
    expect((await dispatch.listDispatch(room)).map((d) => d.agentName)).toEqual([AGENT_NAME]);
    // ... and on another instance behind the load balancer, which never saw the first one.
    const other = await startPhonebridge(env, lk());
    try {
      const res = await twilioPost(other.url, '/incoming-call', callParams(sid));
      expect(res.status).toBe(200);
      expect((await dispatch.listDispatch(room)).map((d) => d.agentName)).toEqual([AGENT_NAME]);
    } finally {
      await other.stop();
    }

    await twilioPost(pb.url, '/call-status', { ...callParams(sid), CallStatus: 'completed' });
  });

  it('a terminal /call-status deletes the room and frees the slot', async () => {
    const sid = callSid();
    await incoming(sid);
    const room = `call-${sid}`;
    expect(pb.server.ctx.registry.get(sid)).toBeDefined();
    const res = await twilioPost(pb.url, '/call-status', {
      ...callParams(sid),
      CallStatus: 'completed',
      CallDuration: '42',
    });
    expect(res.status).toBe(204);
    await waitFor(async () => (await rooms.listRooms([room])).length === 0, 10_000, 'room deleted');
    await pb.server.ctx.registry.settled();
    expect(pb.server.ctx.registry.get(sid)).toBeUndefined();
    expect(pb.logs.some((l) => l.callSid === sid && l.msg === `Deleted room '${room}'`)).toBe(true);
  });

  it('writes no secret to its log, even at debug level', async () => {
    const sid = callSid();
    await incoming(sid);
    await twilioPost(pb.url, '/call-status', { ...callParams(sid), CallStatus: 'completed' });
    await pb.server.ctx.registry.settled();
    const all = JSON.stringify(pb.logs);
    expect(pb.logs.some((l) => l.callSid === sid)).toBe(true);
    expect(pb.config.LOG_LEVEL).toBe('debug');
    for (const secret of [SIP_ENV.SIP_PASSWORD, AUTH_TOKEN, lk().apiSecret])
      expect(all).not.toContain(secret);
  });
});

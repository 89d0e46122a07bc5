import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { livekit, roomService } from '../helpers/livekit.js';
import { LiveKitGate } from '../helpers/livekit-gate.js';
import {
  callParams,
  callSid,
  parseTwimlXml,
  startPhonebridge,
  twilioPost,
  type TestServer,
} from '../helpers/phonebridge.js';

// A status callback that arrives while the webhook is still admitting the call, put
// exactly between two admission steps by holding LiveKit API calls at a proxy.
describe('admission racing the status callback', () => {
  let gate: LiveKitGate;
  let pb: TestServer;
  beforeAll(async () => {
    gate = await LiveKitGate.start(livekit().url);
    pb = await startPhonebridge({
      LIVEKIT_URL: gate.url,
      AGENT_DISPATCH: 'true',
      AGENT_NAME: `pb-races-${process.pid}`, // no worker: a dispatch is only recorded
    });
  });
  afterAll(async () => {
    await pb?.stop();
    await gate?.stop();
  });

  const incoming = (sid: string) => twilioPost(pb.url, '/incoming-call', callParams(sid));
  const completed = (sid: string) =>
    twilioPost(pb.url, '/call-status', { ...callParams(sid), CallStatus: 'completed' });
  const answerOf = async (res: Response) => {
    expect(res.status).toBe(200);
    return parseTwimlXml(await res.text()).Response as Record<string, unknown>;
  };
  const roomExists = async (sid: string) =>
    (await roomService().listRooms([`call-${sid}`])).length > 0;
  const calls = (method: string) => gate.seen.filter((m) => m === method).length;

  it('a call that ends while its room is being created gets no room, no agent and a busy answer', async () => {
    const sid = callSid();
    const dispatches = calls('CreateDispatch');
    gate.hold('CreateRoom');
    const creating = gate.next('CreateRoom');
    const webhook = incoming(sid);
    await creating;
    expect((await completed(sid)).status).toBe(204);
    gate.release('CreateRoom');
    const answer = await answerOf(await webhook);
    expect(answer.Reject).toBeDefined();
    expect(answer.Connect).toBeUndefined();
    await pb.server.ctx.registry.settled();
    expect(pb.server.ctx.registry.get(sid)).toBeUndefined();
    expect(await roomExists(sid)).toBe(false);
    expect(calls('CreateDispatch')).toBe(dispatches);
    // A late retry of the webhook does not bring the call back.
    const rooms = calls('CreateRoom');
    expect((await answerOf(await incoming(sid))).Reject).toBeDefined();
    expect(calls('CreateRoom')).toBe(rooms);
    expect(pb.server.ctx.registry.active).toBe(0);
  });

  it('a call that ends while its agent is being dispatched is answered busy and its room deleted', async () => {
    const sid = callSid();
    gate.hold('CreateDispatch');
    const dispatching = gate.next('CreateDispatch');
    const webhook = incoming(sid);
    await dispatching;
    expect((await completed(sid)).status).toBe(204);
    gate.release('CreateDispatch');
    expect((await answerOf(await webhook)).Reject).toBeDefined();
    await pb.server.ctx.registry.settled();
    expect(pb.server.ctx.registry.active).toBe(0);
    expect(await roomExists(sid)).toBe(false);
  });

  it('a webhook retried while the call is ending gets a clean busy, not a 500', async () => {
    const sid = callSid();
    expect((await answerOf(await incoming(sid))).Connect).toBeDefined();
    gate.hold('DeleteRoom');
    const deleting = gate.next('DeleteRoom');
    expect((await completed(sid)).status).toBe(204);
    await deleting; // the call is ending: its teardown waits on LiveKit
    expect(pb.server.ctx.registry.get(sid)?.phase).toBe('ending');
    expect((await answerOf(await incoming(sid))).Reject).toBeDefined();
    gate.release('DeleteRoom');
    await pb.server.ctx.registry.settled();
    expect(pb.server.ctx.registry.active).toBe(0);
    expect(await roomExists(sid)).toBe(false);
  });
});

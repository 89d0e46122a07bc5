import { ParticipantKind } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { parseTwimlXml } from '../helpers/phonebridge.js';
import { FakeAgent } from '../helpers/fake-agent.js';
import { waitFor } from '../helpers/livekit.js';
import { useOutboundStack, type OutboundStack } from '../helpers/outbound.js';

/** An answered call (through the REST emulation) with a test agent in its room. */
async function answeredCall(s: OutboundStack, to: string) {
  let pickUp!: () => void;
  s.scenarios.set(to, {
    kind: 'human',
    durationMs: 60_000,
    pickUp: new Promise<void>((r) => (pickUp = r)),
  });
  const placed = await s.dial({ to });
  const agent = await FakeAgent.join(placed.room);
  pickUp();
  await s.pb.waitForLog(placed.callSid, 'Published phone audio track', 15_000);
  await s.pb.waitForLog(placed.callSid, 'Agent joined the room', 15_000);
  return { placed, agent };
}

const updatesOf = (s: OutboundStack, callSid: string) =>
  s.emu.requests.filter(
    (r) => r.path === `/2010-04-01/Accounts/${s.emu.accountSid}/Calls/${callSid}.json`,
  );

describe("the bridge's REST calls reach Twilio (its emulation)", () => {
  const stack = useOutboundStack({ TRANSFER_ALLOWLIST: '+15550009999' });

  it('hangs the call up with Status=completed when the agent leaves', async ({ onTestFailed }) => {
    const s = stack();
    let sid = '';
    onTestFailed(() => {
      const story = s.pb.logs.filter((l) => l.callSid === sid).map((l) => String(l.msg));
      console.error(`call ${sid} logged:\n  ${story.join('\n  ')}`);
    });
    const { placed, agent } = await answeredCall(s, '+15555552001');
    sid = placed.callSid;
    // The bridge's part is done once the agent is gone; rtc-node's own disconnect sometimes
    // takes long when the room is deleted under it meanwhile, so it does not hold the test.
    const leaving = agent.leave();
    const report = await s.emu.finished(placed.callSid);
    const updates = updatesOf(s, placed.callSid);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({
      method: 'POST',
      authorized: true,
      status: 200,
      params: { Status: 'completed' },
    });
    // Twilio ended the call: the stream got `stop` and closed, then `completed` followed.
    expect(report.stream?.end).toBe('call-ended');
    expect(report.statuses.at(-1)).toBe('completed');
    await s.pb.server.ctx.registry.settled();
    expect(s.pb.server.ctx.registry.active).toBe(0);
    await Promise.race([leaving, new Promise((r) => setTimeout(r, 5000))]);
  });

  it("redirects the call to <Dial> TwiML when the agent's phonebridge.transfer RPC asks for an allowed number", async () => {
    const s = stack();
    const { placed, agent } = await answeredCall(s, '+15555552002');
    try {
      const phoneOf = () =>
        [...agent.room.remoteParticipants.values()].find((p) => p.kind !== ParticipantKind.AGENT);
      await waitFor(() => phoneOf() !== undefined, 10_000, 'the phone participant');
      const phone = phoneOf();
      const transfer = async (to: string) =>
        JSON.parse(
          await agent.room.localParticipant!.performRpc({
            destinationIdentity: phone!.identity,
            method: 'phonebridge.transfer',
            payload: JSON.stringify({ to }),
          }),
        ) as { ok: boolean; reason?: string };

      // A number off the allow-list never reaches Twilio.
      expect(await transfer('+15550008888')).toMatchObject({ ok: false });
      expect(updatesOf(s, placed.callSid)).toHaveLength(0);

      // The bridge ends the call as soon as Twilio took the redirect, and its room goes with
      // it: the RPC's own answer can be lost in that teardown (reported to the bridge's
      // owner), so what is checked here is what Twilio was asked to do.
      const answer = await transfer('+15550009999').catch((err: Error) => err);
      if (answer instanceof Error)
        console.log(`the transfer RPC's answer was lost: ${answer.message}`);
      else expect(answer).toEqual({ ok: true });
      const report = await s.emu.finished(placed.callSid);
      const updates = updatesOf(s, placed.callSid);
      expect(updates).toHaveLength(1);
      expect(updates[0]).toMatchObject({ method: 'POST', authorized: true, status: 200 });
      const twiml = updates[0]!.params.Twiml!;
      expect(parseTwimlXml(twiml).Response).toHaveProperty('Dial');
      expect(twiml).toContain('<Dial>+15550009999</Dial>');
      expect(report.stream?.end).toBe('call-ended');
      expect(report.notes).toContain('<Dial> to +15550009999 not followed');
      await waitFor(() => s.pb.server.ctx.registry.active === 0, 10_000, 'call to end');
    } finally {
      await Promise.race([agent.leave(), new Promise((r) => setTimeout(r, 5000))]);
    }
  });
});

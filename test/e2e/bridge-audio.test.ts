import { beforeEach, describe, expect, it } from 'vitest';
import {
  activeWindows,
  dominantFrequency,
  goertzelPower,
  longestGapMs,
  tone,
} from '../../src/audio/analysis.js';
import { FakeAgent } from '../helpers/fake-agent.js';
import { roomService, waitFor } from '../helpers/livekit.js';
import { admitCall, usePhonebridge, type TestServer } from '../helpers/phonebridge.js';
import { TwilioStream } from '../helpers/twilio-stream.js';

const RATE = 8000;

async function placeCall(
  pb: TestServer,
  encoding?: 'audio/x-mulaw' | 'audio/x-alaw',
): Promise<{ sid: string; stream: TwilioStream; agent: FakeAgent }> {
  const { sid, params } = await admitCall(pb);
  const agent = await FakeAgent.join(`call-${sid}`);
  const stream = await TwilioStream.open(pb.url);
  stream.start(sid, params, encoding);
  return { sid, stream, agent };
}

/** The caller hangs up: Twilio sends stop; the server closes the stream and ends the call. */
async function hangUp(pb: TestServer, stream: TwilioStream, sid: string): Promise<void> {
  stream.stop(sid);
  await stream.closed;
  await pb.server.ctx.registry.settled();
}

async function gapFillMs(pb: TestServer): Promise<number> {
  const metrics = await (await fetch(`${pb.url}/metrics`)).text();
  return Number(/^phonebridge_bridge_gap_fill_ms_total (\S+)$/m.exec(metrics)?.[1]);
}

/** Start and end (ms) of the loud part of a recording. */
function activeSpan(pcm: Int16Array): { startMs: number; endMs: number } {
  const w = activeWindows(pcm, RATE, 10, -30);
  const first = w.indexOf(true);
  const last = w.lastIndexOf(true);
  return { startMs: first * 10, endMs: (last + 1) * 10 };
}

/** Waits until the bridge has subscribed to the agent's audio `count` times. */
function agentSubscriptions(pb: TestServer, sid: string, count: number): Promise<void> {
  return waitFor(
    () =>
      pb.logs.filter((l) => l.callSid === sid && l.msg === 'Subscribed to agent audio track')
        .length === count,
    10_000,
    `subscription ${count} to the agent's audio`,
  );
}

/** The agent says an 800 ms tone: the caller must hear at least 700 ms of it, at its pitch. */
async function expectCallerHearsAgent(
  stream: TwilioStream,
  agent: FakeAgent,
  freqHz: number,
): Promise<void> {
  const before = stream.mediaOut().length;
  await agent.say(tone(freqHz, 800, RATE, 0.5));
  await agent.say(new Int16Array(RATE / 2));
  await new Promise((r) => setTimeout(r, 300));
  const back = stream.heard().subarray(before * 160);
  const span = activeSpan(back);
  expect(span.endMs - span.startMs).toBeGreaterThan(700);
  const toneBack = back.subarray((span.startMs * RATE) / 1000, (span.endMs * RATE) / 1000);
  expect(Math.abs(dominantFrequency(toneBack, RATE, 100, 3000) - freqHz)).toBeLessThan(20);
}

describe('media bridge: audio both ways through a real livekit-server', () => {
  const server = usePhonebridge();
  let pb: TestServer;
  beforeEach(() => {
    pb = server();
  });

  it('carries caller audio into the room and agent audio back as well-formed Twilio media', async () => {
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, "The agent is listening to the caller's audio", 10_000);

    await stream.play(tone(440, 1000, RATE, 0.5));
    await stream.play(new Int16Array(RATE / 2)); // trailing silence flushes jitter buffers
    const heard = agent.recording();
    const span = activeSpan(heard);
    // The whole second, none of it skipped; and not played twice, though the receiving
    // agent's jitter buffer may stretch it when the machine is loaded (1080 ms seen in CI).
    expect(span.endMs - span.startMs).toBeGreaterThan(940);
    expect(span.endMs - span.startMs).toBeLessThan(1200);
    const toneIn = heard.subarray((span.startMs * RATE) / 1000, (span.endMs * RATE) / 1000);
    expect(Math.abs(dominantFrequency(toneIn, RATE, 100, 3000) - 440)).toBeLessThan(440 * 0.02);

    await pb.waitForLog(sid, 'Subscribed to agent audio track', 10_000);
    const before = stream.mediaOut().length;
    await agent.say(tone(1000, 1000, RATE, 0.5));
    await agent.say(new Int16Array(RATE / 2));
    await new Promise((r) => setTimeout(r, 300));
    const out = stream.mediaOut().slice(before);
    for (const m of out) {
      expect(m.streamSid).toBe(stream.streamSid);
      expect(Buffer.from(m.media!.payload, 'base64')).toHaveLength(160);
    }
    const back = stream.heard().subarray(before * 160);
    const backSpan = activeSpan(back);
    expect(backSpan.endMs - backSpan.startMs).toBeGreaterThan(940);
    const toneBack = back.subarray(
      (backSpan.startMs * RATE) / 1000,
      (backSpan.endMs * RATE) / 1000,
    );
    expect(Math.abs(dominantFrequency(toneBack, RATE, 100, 3000) - 1000)).toBeLessThan(20);
    // Continuous while the agent talks: no hole inside the tone.
    expect(longestGapMs(toneBack.subarray(80, toneBack.length - 80), RATE, 50)).toBeLessThan(5);
    expect(
      pb.logs.some((l) => l.callSid === sid && l.msg === 'Starting to stream agent audio'),
    ).toBe(true);
    expect(
      pb.logs.some((l) => l.callSid === sid && l.msg === `Connected to LiveKit room call-${sid}`),
    ).toBe(true);

    await hangUp(pb, stream, sid);
    await agent.leave();
    expect((await roomService().listRooms()).map((r) => r.name)).not.toContain(`call-${sid}`);
  });

  it('carries an A-law stream both ways: published as PCMA, answered in A-law', async () => {
    const { sid, stream, agent } = await placeCall(pb, 'audio/x-alaw');
    await pb.waitForLog(sid, "The agent is listening to the caller's audio", 10_000);
    expect(agent.callerCodec()).toBe('audio/PCMA');
    await stream.play(tone(700, 800, RATE, 0.5));
    await stream.play(new Int16Array(RATE / 2));
    const heard = agent.recording();
    const span = activeSpan(heard);
    expect(span.endMs - span.startMs).toBeGreaterThan(740);
    const toneIn = heard.subarray((span.startMs * RATE) / 1000, (span.endMs * RATE) / 1000);
    // Read as μ-law, A-law bytes would not be a 700 Hz tone at the agent.
    expect(Math.abs(dominantFrequency(toneIn, RATE, 100, 3000) - 700)).toBeLessThan(700 * 0.02);

    await pb.waitForLog(sid, 'Subscribed to agent audio track', 10_000);
    await expectCallerHearsAgent(stream, agent, 1200);
    await hangUp(pb, stream, sid);
    await agent.leave();
  });

  it('keeps the published timeline right across a 200 ms gap and a 500 ms burst', async () => {
    const gapFillBefore = await gapFillMs(pb);
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, "The agent is listening to the caller's audio", 10_000);
    const a = tone(600, 400, RATE, 0.5);
    await stream.play(a);
    stream.skip(200); // 200 ms never arrives
    // 500 ms of audio arrives at once, then the line continues in real time.
    await stream.play(tone(600, 500, RATE, 0.5), { burst: true });
    await stream.play(tone(600, 300, RATE, 0.5));
    // The burst was queued, not sped up: the room's timeline runs 500 ms behind until the end.
    await stream.play(new Int16Array(RATE));
    const heard = agent.recording();
    const w = activeWindows(heard, RATE, 10, -30);
    const first = w.indexOf(true);
    const last = w.lastIndexOf(true);
    const quietInside = w.slice(first, last + 1).filter((x) => !x).length * 10;
    // 400 ms tone, 200 ms silence, 800 ms tone: nothing sped up, nothing dropped.
    expect((last + 1 - first) * 10).toBeGreaterThan(1340);
    expect((last + 1 - first) * 10).toBeLessThan(1480);
    expect(quietInside).toBeGreaterThan(160);
    expect(quietInside).toBeLessThan(260);
    // The 200 ms that never arrived was filled with silence, and counted.
    expect((await gapFillMs(pb)) - gapFillBefore).toBe(200);
    await hangUp(pb, stream, sid);
    await agent.leave();
  });

  it('clears on barge-in and plays none of the interrupted reply after it', async () => {
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, 'Subscribed to agent audio track', 10_000);
    await agent.setState('speaking');
    // An agent that, like many, does not stop its audio at once when interrupted.
    const talking = agent.say(tone(800, 1500, RATE, 0.5));
    await waitFor(() => stream.mediaOut().length > 30, 5000, 'agent audio');
    const callerTalks = stream.play(tone(300, 600, RATE, 0.5));
    await new Promise((r) => setTimeout(r, 200));
    await agent.setState('listening');
    await waitFor(() => stream.received.some((m) => m.event === 'clear'), 5000, 'clear');
    const atClear = stream.received.findIndex((m) => m.event === 'clear');
    await talking;
    await callerTalks;
    await new Promise((r) => setTimeout(r, 300));
    expect(stream.received[atClear]!.streamSid).toBe(stream.streamSid);
    // Not one frame of the rest of the 800 Hz reply reached the caller after the clear.
    const after = stream.received.slice(atClear).filter((m) => m.event === 'media');
    expect(after).toHaveLength(0);
    expect(stream.received.filter((m) => m.event === 'mark').length).toBeGreaterThan(0);
    await hangUp(pb, stream, sid);
    const summary = pb.logs.find((l) => l.callSid === sid && l.msg === 'Bridge summary')!;
    expect(summary.clears).toBe(1);
    expect(summary.discardedAfterBargeIn).toBeGreaterThan(0);
    expect(summary.marksEchoed).toBeGreaterThan(0);
    await agent.leave();
  });

  it('plays a turn that ends by itself to its last frame, with no clear', async () => {
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, 'Subscribed to agent audio track', 10_000);
    const before = stream.mediaOut().length;
    await agent.setState('speaking');
    await agent.say(tone(900, 1000, RATE, 0.5));
    // The framework flips to listening as soon as its queue is empty: the reply's tail is
    // still in the SFU, the engine and the pacer.
    await agent.setState('listening');
    await agent.say(new Int16Array(RATE / 2));
    await new Promise((r) => setTimeout(r, 300));
    expect(stream.received.some((m) => m.event === 'clear')).toBe(false);
    const span = activeSpan(stream.heard().subarray(before * 160));
    expect(span.endMs - span.startMs).toBeGreaterThan(960);
    await hangUp(pb, stream, sid);
    await agent.leave();
  });

  it('follows the agent onto a new audio track', async () => {
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, 'Subscribed to agent audio track', 10_000);
    await agent.replaceTrack();
    await agentSubscriptions(pb, sid, 2);
    await expectCallerHearsAgent(stream, agent, 900);
    await hangUp(pb, stream, sid);
    await agent.leave();
  });

  it('publishes caller DTMF to the room', async () => {
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, 'Published phone audio track', 10_000);
    await waitFor(() => agent.heard.length > 0, 10_000, 'the agent to hear the caller');
    stream.dtmf('4');
    stream.dtmf('#');
    await waitFor(() => agent.dtmf.length === 2, 5000, 'dtmf');
    expect(agent.dtmf).toEqual(['4', '#']);
    await hangUp(pb, stream, sid);
    await agent.leave();
  });

  it('holds digits pressed while the bridge is still joining, then publishes them in order', async () => {
    const { sid, stream, agent } = await placeCall(pb);
    // Sent right behind `start`: the bridge has not joined the room yet.
    stream.dtmf('1');
    stream.dtmf('2');
    await pb.waitForLog(sid, 'Published phone audio track', 10_000);
    await waitFor(() => agent.heard.length > 0, 10_000, 'the agent to hear the caller');
    stream.dtmf('3');
    await waitFor(() => agent.dtmf.length === 3, 5000, 'dtmf');
    expect(agent.dtmf).toEqual(['1', '2', '3']);
    await hangUp(pb, stream, sid);
    await agent.leave();
  });

  it("plays the agent's DTMF to the caller in-band", async () => {
    const { sid, stream, agent } = await placeCall(pb);
    await pb.waitForLog(sid, "The agent is listening to the caller's audio", 10_000);
    const before = stream.mediaOut().length;
    await agent.room.localParticipant!.publishDtmf(9, '9');
    await pb.waitForLog(sid, 'Agent sent DTMF; playing it in-band to the caller', 5000);
    await waitFor(() => stream.mediaOut().length >= before + 5, 5000, 'the tones');
    const heard = stream.heard().subarray(before * 160, (before + 5) * 160);
    // '9' is 852 + 1477 Hz.
    expect(goertzelPower(heard, RATE, 852)).toBeGreaterThan(100 * goertzelPower(heard, RATE, 697));
    expect(goertzelPower(heard, RATE, 1477)).toBeGreaterThan(
      100 * goertzelPower(heard, RATE, 1209),
    );
    await hangUp(pb, stream, sid);
    await agent.leave();
  });
});

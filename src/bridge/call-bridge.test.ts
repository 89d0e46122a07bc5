import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { goertzelPower, tone } from '../audio/analysis.js';
import { encodeBase64 } from '../audio/base64.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw, type Codec } from '../audio/g711.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../server/metrics.js';
import { noCallControl } from '../twilio/call-control.js';
import { FakeMediaLeg } from '../../test/helpers/fake-media-leg.js';
import { CallBridge } from './call-bridge.js';
import { CallRegistry } from './call-registry.js';
import type { EndReason } from './call.js';
import { loadPrompt } from './prompts.js';

const config = loadConfig({
  LIVEKIT_URL: 'ws://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret-secret-secret',
  TWILIO_AUTH_TOKEN: 'test-auth-token-0123456789abcdef',
  AGENT_JOIN_TIMEOUT_MS: '5000',
  TRANSFER_ALLOWLIST: '+15550001111',
});

interface Harness {
  bridge: CallBridge;
  leg: FakeMediaLeg;
  sent: Record<string, any>[];
  closed: { code: number; reason: string }[];
  ended: EndReason[];
  media: () => string[];
}

async function harness(
  codec: Codec = 'mulaw',
  direction: 'inbound' | 'outbound' = 'inbound',
): Promise<Harness> {
  const leg = new FakeMediaLeg();
  const sent: Record<string, any>[] = [];
  const closed: { code: number; reason: string }[] = [];
  const ended: EndReason[] = [];
  const registry = new CallRegistry({
    capacity: 10,
    streamStartTimeoutMs: 60_000,
    onEnded: async () => undefined,
  });
  const call = registry.admit({
    callSid: 'CA' + '0'.repeat(32),
    from: '+15551234567',
    to: '+15557654321',
    room: 'call-CA' + '0'.repeat(32),
    log: createLogger({ level: 'silent' }),
  });
  call.direction = direction;
  const bridge = new CallBridge(
    call,
    {
      config,
      metrics: createMetrics(),
      callControl: noCallControl,
      media: leg,
      endCall: (r) => {
        ended.push(r);
        void registry.end(call, r);
      },
    },
    {
      streamSid: 'MZ' + '1'.repeat(32),
      codec,
      send: (m) => sent.push(JSON.parse(m) as Record<string, any>),
      closeStream: (code, reason) => closed.push({ code, reason }),
    },
  );
  call.onTeardown(() => bridge.teardown());
  await bridge.start();
  const media = () => sent.filter((m) => m.event === 'media').map((m) => m.media.payload);
  return { bridge, leg, sent, closed, ended, media };
}

/** One Twilio media message of 20 ms of PCM, μ-law encoded. */
function frameB64(pcm: Int16Array): string {
  return Buffer.from(encodeMulaw(pcm)).toString('base64');
}

const loud = () => tone(700, 20, 8000, 0.5);
const quiet = () => new Int16Array(160);

describe('CallBridge (against a scripted media leg)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks the engine to join as the caller, in the stream law, with transfer RPC', async () => {
    const h = await harness('alaw');
    expect(h.leg.last.join).toMatchObject({
      callSid: 'CA' + '0'.repeat(32),
      codec: 'pcma',
      trackName: 'phone-audio',
      rpcMethods: ['phonebridge.transfer'],
    });
    const claims = JSON.parse(
      Buffer.from(h.leg.last.join.token.split('.')[1]!, 'base64url').toString(),
    ) as { sub: string; video: { room: string } };
    expect(claims.sub).toBe('phone-15551234567');
    expect(claims.video.room).toBe('call-CA' + '0'.repeat(32));
  });

  it('holds caller audio until the track is published, then delivers it in order', async () => {
    const h = await harness();
    const frames = [loud(), loud(), loud()];
    frames.forEach((f, i) => h.bridge.onMedia(frameB64(f), i * 20, performance.now()));
    expect(h.leg.last.callerFrames).toHaveLength(0);
    h.leg.last.connect();
    await vi.advanceTimersByTimeAsync(200);
    expect(h.leg.last.callerFrames.map((f) => Buffer.from(f).toString('base64'))).toEqual(
      frames.map(frameB64),
    );
    // Live frames now go straight through.
    h.bridge.onMedia(frameB64(loud()), 60, performance.now());
    expect(h.leg.last.callerFrames).toHaveLength(4);
  });

  it('works off held silence after a hold but never skips speech', async () => {
    const h = await harness();
    // 1 s of silence, then 200 ms of speech, all held while the room connects.
    for (let i = 0; i < 50; i++) h.bridge.onMedia(frameB64(quiet()), i * 20, performance.now());
    for (let i = 50; i < 60; i++) h.bridge.onMedia(frameB64(loud()), i * 20, performance.now());
    h.leg.last.connect();
    await vi.advanceTimersByTimeAsync(200);
    const sent = h.leg.last.callerFrames;
    const speech = sent.filter((f) => f.some((b) => b !== 0xff));
    expect(speech).toHaveLength(10);
    // Only as much silence as the catch-up target leaves queued.
    expect(sent.length).toBeLessThan(15);
    expect(h.bridge.summary().catchUpSkipped).toBeGreaterThan(35);
  });

  it('sends agent audio to Twilio as media messages, with marks', async () => {
    const h = await harness();
    h.leg.last.connect();
    const pcm = tone(440, 400, 8000, 0.5);
    for (let i = 0; i < 20; i++) {
      h.leg.last.audio(encodeMulaw(pcm.subarray(i * 160, i * 160 + 160)), 16000);
      vi.advanceTimersByTime(20);
    }
    const payloads = h.media();
    expect(payloads).toHaveLength(20);
    expect(payloads[3]).toBe(encodeBase64(encodeMulaw(pcm.subarray(480, 640))));
    expect(h.sent.filter((m) => m.event === 'mark').length).toBeGreaterThanOrEqual(1);
    expect(h.sent.every((m) => m.streamSid === 'MZ' + '1'.repeat(32))).toBe(true);
  });

  it('ends without an apology when the room is deleted (the agent hung up)', async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'disconnected', reason: 'room_deleted' });
    await vi.runAllTimersAsync();
    expect(h.media()).toHaveLength(0);
    expect(h.closed).toEqual([{ code: 1000, reason: 'room_deleted' }]);
    expect(h.ended).toEqual(['room_deleted']);
  });

  it.each([
    [
      'the engine loses LiveKit',
      { type: 'disconnected', reason: 'signal_close' } as const,
      'error',
    ],
    ['the join fails', { type: 'join_failed', error: 'token expired' } as const, 'error'],
    ['the engine dies', { type: 'engine_failed', reason: 'killed' } as const, 'engine_failed'],
  ])('apologises before the stream closes when %s', async (_why, event, reason) => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit(event);
    await vi.advanceTimersByTimeAsync(10);
    const apology = loadPrompt('apology')!;
    expect(h.media()).toEqual(apology.frames);
    expect(h.closed).toHaveLength(0);
    // The caller has heard it when Twilio echoes the mark.
    h.bridge.onMark('pb-apology');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.closed).toEqual([{ code: 1000, reason }]);
  });

  it('apologises in A-law on an A-law stream', async () => {
    const h = await harness('alaw');
    h.leg.last.emit({ type: 'join_failed', error: 'room gone' });
    await vi.advanceTimersByTimeAsync(10);
    const first = Buffer.from(h.media()[10]!, 'base64');
    const mulaw = Buffer.from(loadPrompt('apology', 'mulaw')!.frames[10]!, 'base64');
    expect(first).not.toEqual(mulaw);
    // Re-encoding its decoded samples as A-law gives the same bytes: it is A-law.
    expect(Buffer.from(encodeAlaw(decodeAlaw(first)))).toEqual(first);
  });

  it('apologises and ends when no agent joins in time', async () => {
    const h = await harness();
    h.leg.last.emit({ type: 'published', track: 'TR_caller' });
    await vi.advanceTimersByTimeAsync(config.AGENT_JOIN_TIMEOUT_MS + 10);
    expect(h.media().length).toBeGreaterThan(10);
    h.bridge.onMark('pb-apology');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.closed).toEqual([{ code: 1000, reason: 'agent_timeout' }]);
  });

  it('refuses a transfer to a number off the allow-list and allows none without REST', async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({
      type: 'rpc',
      id: 'r1',
      method: 'phonebridge.transfer',
      payload: '{"to":"+15559999999"}',
    });
    h.leg.last.emit({
      type: 'rpc',
      id: 'r2',
      method: 'phonebridge.transfer',
      payload: '{"to":"+15550001111"}',
    });
    h.leg.last.emit({ type: 'rpc', id: 'r3', method: 'phonebridge.transfer', payload: 'not json' });
    await vi.advanceTimersByTimeAsync(10);
    const replies = Object.fromEntries(
      h.leg.last.rpcReplies.map((r) => [
        r.id,
        JSON.parse((r.reply as { payload: string }).payload),
      ]),
    );
    expect(replies.r1).toEqual({ ok: false, reason: 'number is not on the transfer allow-list' });
    expect(replies.r2.reason).toMatch(/TWILIO_ACCOUNT_SID/);
    expect(replies.r3.reason).toMatch(/JSON/);
  });

  it('holds caller DTMF until the agent can receive it, then sends it in order', async () => {
    const h = await harness();
    h.bridge.onDtmf('1');
    h.bridge.onDtmf('#');
    h.leg.last.connect();
    expect(h.leg.last.dtmf).toEqual([]);
    h.leg.last.audio(new Uint8Array(160).fill(0xff), 0);
    expect(h.leg.last.dtmf).toEqual(['1', '#']);
    h.bridge.onDtmf('2');
    expect(h.leg.last.dtmf).toEqual(['1', '#', '2']);
  });

  it('leaves the engine on teardown and reports its counters', async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'agent_left', identity: 'agent-1', reason: 'client_initiated' });
    await vi.runAllTimersAsync();
    expect(h.ended).toEqual(['agent_left']);
    expect(h.leg.last.left).toBe(true);
  });

  it('holds caller audio until the agent listens, not just until the track is up', async () => {
    const h = await harness();
    const leg = h.leg.last;
    leg.emit({ type: 'published', track: 'TR_caller' });
    leg.emit({ type: 'agent_joined', identity: 'agent-1', sid: 'PA_2' });
    for (let i = 0; i < 10; i++) h.bridge.onMedia(frameB64(loud()), i * 20, performance.now());
    expect(leg.callerFrames).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(700);
    leg.emit({ type: 'caller_subscribed', track: 'TR_caller' });
    await vi.advanceTimersByTimeAsync(200);
    // Every word said before the agent listened reaches it.
    expect(leg.callerFrames).toHaveLength(10);
    expect(h.bridge.summary().agentWaitMs).toBeGreaterThanOrEqual(700);
  });

  it('keeps more than INBOUND_HOLD_MS for a slow agent: every frame until it listens', async () => {
    const h = await harness();
    const leg = h.leg.last;
    leg.emit({ type: 'published', track: 'TR_caller' });
    leg.emit({ type: 'agent_joined', identity: 'agent-1', sid: 'PA_2' });
    // 4 s of speech (twice INBOUND_HOLD_MS) before the agent listens, within its 5 s timeout.
    const frames = 4000 / 20;
    expect(frames * 20).toBeGreaterThan(config.INBOUND_HOLD_MS);
    for (let i = 0; i < frames; i++) h.bridge.onMedia(frameB64(loud()), i * 20, performance.now());
    await vi.advanceTimersByTimeAsync(4000);
    leg.emit({ type: 'caller_subscribed', track: 'TR_caller' });
    await vi.advanceTimersByTimeAsync(200);
    expect(leg.callerFrames).toHaveLength(frames);
  });

  it('an outbound call drops what the callee said before the agent listened', async () => {
    const h = await harness('mulaw', 'outbound');
    const leg = h.leg.last;
    leg.emit({ type: 'published', track: 'TR_caller' });
    leg.emit({ type: 'agent_joined', identity: 'agent-1', sid: 'PA_2' });
    for (let i = 0; i < 10; i++) h.bridge.onMedia(frameB64(loud()), i * 20, performance.now());
    leg.emit({ type: 'caller_subscribed', track: 'TR_caller' });
    await vi.advanceTimersByTimeAsync(200);
    expect(leg.callerFrames).toHaveLength(0);
    h.bridge.onMedia(frameB64(loud()), 200, performance.now());
    expect(leg.callerFrames).toHaveLength(1);
  });

  it('sends caller audio anyway when an agent joined but never subscribed', async () => {
    const h = await harness();
    const leg = h.leg.last;
    leg.emit({ type: 'published', track: 'TR_caller' });
    leg.emit({ type: 'agent_joined', identity: 'agent-1', sid: 'PA_2' });
    h.bridge.onMedia(frameB64(loud()), 0, performance.now());
    await vi.advanceTimersByTimeAsync(config.AGENT_JOIN_TIMEOUT_MS + 250);
    expect(leg.callerFrames).toHaveLength(1);
    expect(h.closed).toHaveLength(0);
  });

  function agentSays(h: Harness, frames: number, peak = 16000): void {
    for (let i = 0; i < frames; i++) {
      h.leg.last.audio(encodeMulaw(tone(440, 20, 8000, 0.5)), peak);
      vi.advanceTimersByTime(20);
    }
  }

  it('lets a turn that ends by itself play out: no clear, no audio dropped', async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'agent_state', state: 'speaking' });
    agentSays(h, 10);
    // The framework says "listening" while the reply's last frames are still in flight.
    h.leg.last.emit({ type: 'agent_state', state: 'listening' });
    agentSays(h, 5);
    expect(h.sent.some((m) => m.event === 'clear')).toBe(false);
    expect(h.media()).toHaveLength(15);
  });

  it('clears and drops the rest of a reply the caller talks over, until the next utterance', async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'agent_state', state: 'speaking' });
    agentSays(h, 10);
    h.bridge.onMedia(frameB64(loud()), 0, performance.now()); // the caller starts talking
    h.leg.last.emit({ type: 'agent_state', state: 'listening' });
    expect(h.sent.filter((m) => m.event === 'clear')).toHaveLength(1);
    agentSays(h, 5); // the interrupted reply still draining out of the room
    expect(h.media()).toHaveLength(10);
    h.leg.last.emit({ type: 'agent_state', state: 'thinking' });
    h.leg.last.emit({ type: 'agent_state', state: 'speaking' });
    agentSays(h, 3);
    expect(h.media()).toHaveLength(13);
    expect(h.bridge.summary().discardedAfterBargeIn).toBe(5);
  });

  it('clears at once when our agent says it was interrupted', async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'agent_state', state: 'speaking' });
    agentSays(h, 5);
    h.leg.last.emit({
      type: 'data',
      topic: 'phonebridge.interrupted',
      payload: '{}',
      identity: 'agent-1',
    });
    expect(h.sent.filter((m) => m.event === 'clear')).toHaveLength(1);
    agentSays(h, 5);
    expect(h.media()).toHaveLength(5);
    // Its next reply comes after a pause, and is played.
    await vi.advanceTimersByTimeAsync(400);
    agentSays(h, 2);
    expect(h.media()).toHaveLength(7);
  });

  it.each([
    ['is removed (its process died)', 'participant_removed', true],
    ['times out', 'unknown_reason', true],
    ['hangs up', 'client_initiated', false],
  ])('when the agent %s (%s), it apologises: %s', async (_why, reason, apology) => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'agent_left', identity: 'agent-1', reason });
    await vi.advanceTimersByTimeAsync(10);
    expect(h.media().length > 0).toBe(apology);
    h.bridge.onMark('pb-apology');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.closed).toEqual([{ code: 1000, reason: 'agent_left' }]);
  });

  it("plays the agent's DTMF to the caller as its two tones", async () => {
    const h = await harness();
    h.leg.last.connect();
    h.leg.last.emit({ type: 'dtmf', digit: '5', code: 5, identity: 'agent-1' });
    vi.advanceTimersByTime(200);
    const audio = Buffer.concat(h.media().map((p) => Buffer.from(p, 'base64')));
    expect(audio.length).toBe(8 * 160);
    const pcm = decodeMulaw(audio.subarray(0, 800));
    const power = (f: number) => goertzelPower(pcm, 8000, f);
    // '5' is 770 + 1336 Hz; its neighbours' tones are absent.
    expect(power(770)).toBeGreaterThan(100 * power(697));
    expect(power(1336)).toBeGreaterThan(100 * power(1209));
  });

  it('names the phone participant after the person on the line: the callee of an outbound call', async () => {
    const h = await harness('mulaw', 'outbound');
    const claims = JSON.parse(
      Buffer.from(h.leg.last.join.token.split('.')[1]!, 'base64url').toString(),
    ) as { sub: string };
    expect(claims.sub).toBe('phone-15557654321');
  });

  it("waits for an announcing agent's phonebridge.listening, not a guess, before sending", async () => {
    const h = await harness();
    const leg = h.leg.last;
    leg.emit({ type: 'published', track: 'TR_caller' });
    leg.emit({
      type: 'agent_joined',
      identity: 'agent-1',
      sid: 'PA_2',
      attributes: { 'phonebridge.signals': 'listening,interrupted' },
    });
    h.bridge.onMedia(frameB64(loud()), 0, performance.now());
    leg.emit({ type: 'caller_subscribed', track: 'TR_caller' });
    await vi.advanceTimersByTimeAsync(1000);
    // Subscribed, but the agent has no reader on the track yet: still held.
    expect(leg.callerFrames).toHaveLength(0);
    // Another participant (a supervisor listening in) does not speak for the agent.
    leg.emit({ type: 'data', topic: 'phonebridge.listening', payload: '{}', identity: 'sup-1' });
    expect(leg.callerFrames).toHaveLength(0);
    leg.emit({ type: 'data', topic: 'phonebridge.listening', payload: '{}', identity: 'agent-1' });
    expect(leg.callerFrames).toHaveLength(1);
  });

  it("apologises at once when the agent's worker reports its process dead", async () => {
    const h = await harness();
    h.leg.last.connect();
    // Sent through the server API: no participant sent it.
    h.leg.last.emit({
      type: 'data',
      topic: 'phonebridge.agent-gone',
      payload: JSON.stringify({ at: Date.now(), participant: 'agent-1' }),
      identity: '',
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(h.media().length).toBeGreaterThan(10);
    h.bridge.onMark('pb-apology');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.closed).toEqual([{ code: 1000, reason: 'agent_left' }]);
  });

  it('ignores an agent-gone notice about someone else, and one a participant forged', async () => {
    const h = await harness();
    h.leg.last.connect();
    const gone = JSON.stringify({ participant: 'agent-1' });
    h.leg.last.emit({
      type: 'data',
      topic: 'phonebridge.agent-gone',
      payload: gone,
      identity: 'agent-1',
    });
    h.leg.last.emit({
      type: 'data',
      topic: 'phonebridge.agent-gone',
      payload: JSON.stringify({ participant: 'agent-9' }),
      identity: '',
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(h.media()).toHaveLength(0);
    expect(h.closed).toHaveLength(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeWindows, dominantFrequency, rmsDbfs, tone } from '../../src/audio/analysis.js';
import { LocalLiveKit } from '../../src/livekit/local.js';
import { FakeAgent } from '../helpers/fake-agent.js';
import { livekit, roomService, waitFor } from '../helpers/livekit.js';
import { admitCall, startPhonebridge, type TestServer } from '../helpers/phonebridge.js';
import { SignalProxy } from '../helpers/signal-proxy.js';
import { TwilioStream } from '../helpers/twilio-stream.js';

const RATE = 8000;

async function placeCall(pb: TestServer) {
  const { sid, params } = await admitCall(pb);
  const agent = await FakeAgent.join(`call-${sid}`);
  const stream = await TwilioStream.open(pb.url);
  stream.start(sid, params);
  await pb.waitForLog(sid, 'Published phone audio track', 10_000);
  await pb.waitForLog(sid, 'Agent joined the room', 10_000);
  return { sid, agent, stream };
}

async function roomExists(name: string): Promise<boolean> {
  return (await roomService().listRooms([name])).length > 0;
}

/** The shipped apology, played to the caller before the stream closed. */
function expectApology(stream: TwilioStream): void {
  const heard = stream.heard();
  expect(heard.length).toBeGreaterThan(RATE);
  expect(rmsDbfs(heard)).toBeGreaterThan(-40);
  expect(stream.received.some((m) => m.event === 'mark' && m.mark?.name === 'pb-apology')).toBe(
    true,
  );
}

/** The agent heard a tone of `freqHz` lasting at least `minMs` after `fromSample`. */
function expectAgentHeard(agent: FakeAgent, fromSample: number, freqHz: number, minMs: number) {
  const heard = agent.recording().subarray(fromSample);
  const loudMs = activeWindows(heard, RATE, 10, -30).filter(Boolean).length * 10;
  expect(loudMs).toBeGreaterThan(minMs);
  expect(Math.abs(dominantFrequency(heard, RATE, 100, 3000) - freqHz)).toBeLessThan(15);
}

describe('media engine failure', () => {
  let pb: TestServer;
  beforeAll(async () => {
    pb = await startPhonebridge();
  });
  afterAll(async () => {
    await pb?.stop();
  });

  it('apologises to every caller on a dead engine, restarts it, and takes new calls', async () => {
    const calls = [await placeCall(pb), await placeCall(pb)];
    const engine = pb.server.ctx.engine!;
    const before = engine.pid;
    engine.killForTest();
    // Degraded from the engine's death until its successor has said hello.
    await waitFor(
      async () => (await fetch(`${pb.url}/health`)).status === 503,
      2000,
      'health to report the dead engine',
    );
    for (const { stream } of calls) {
      await stream.closed;
      expect(stream.closeReason).toBe('engine_failed');
      expectApology(stream);
    }
    await pb.server.ctx.registry.settled();
    expect(pb.server.ctx.registry.active).toBe(0);
    for (const { sid } of calls) expect(await roomExists(`call-${sid}`)).toBe(false);

    await waitFor(async () => (await fetch(`${pb.url}/health`)).ok, 5000, 'a fresh engine');
    expect(engine.pid).not.toBe(before);
    const metrics = await (await fetch(`${pb.url}/metrics`)).text();
    expect(metrics).toMatch(/phonebridge_media_engine_restarts_total 1\b/);
    expect(metrics).toMatch(/phonebridge_calls_ended_total\{reason="engine_failed"\} 2\b/);
    expect(metrics).toMatch(/phonebridge_media_engine_resident_memory_bytes [1-9]/);

    // The next call runs on the new engine, audio and all.
    const next = await placeCall(pb);
    await next.stream.play(tone(600, 800, RATE, 0.5));
    await next.stream.play(new Int16Array(RATE / 2));
    expectAgentHeard(next.agent, 0, 600, 600);
    // The engine that carried that audio shows its cost beside the Node process's own.
    const after = await (await fetch(`${pb.url}/metrics`)).text();
    expect(after).toMatch(/phonebridge_media_engine_cpu_seconds_total 0*\.?[0-9]*[1-9]/);
    next.stream.stop(next.sid);
    await next.stream.closed;
    await pb.server.ctx.registry.settled();
    for (const c of [...calls, next]) await c.agent.leave();
  });
});

describe('LiveKit signalling cut between the engine and the server', () => {
  let proxy: SignalProxy;
  let pb: TestServer;
  beforeAll(async () => {
    proxy = await SignalProxy.start(Number(new URL(livekit().url).port));
    pb = await startPhonebridge({
      LIVEKIT_URL: proxy.url,
      RECONNECT_TIMEOUT_MS: '4000',
      INBOUND_HOLD_MS: '6000',
    });
  });
  afterAll(async () => {
    await pb?.stop();
    await proxy?.stop();
  });

  it('survives a 2 s cut: caller audio is held, then delivered, and the call goes on', async () => {
    const { sid, agent, stream } = await placeCall(pb);
    const playing = stream.play(tone(500, 4000, RATE, 0.5));
    await new Promise((r) => setTimeout(r, 500));
    const cutAt = agent.recording().length;
    proxy.cut(2000);
    await pb.waitForLog(sid, 'LiveKit connection lost; reconnecting (holding caller audio)', 3000);
    await pb.waitForLog(sid, 'LiveKit connection restored', 8000);
    await playing;
    await stream.play(new Int16Array(RATE));
    // What the caller said during the cut reached the agent after it.
    expectAgentHeard(agent, cutAt, 500, 2500);
    expect(pb.server.ctx.registry.get(sid)?.phase).toBe('streaming');
    stream.stop(sid);
    await stream.closed;
    await pb.server.ctx.registry.settled();
    await agent.leave();
  });

  it('apologises, ends the call and deletes its room for good when LiveKit does not come back in time', async () => {
    // A short reconnect window, so the call ends while the engine's first resume attempt
    // (5 s signal connect in server-sdk-go) is still stalled in the cut.
    const quick = await startPhonebridge({ LIVEKIT_URL: proxy.url, RECONNECT_TIMEOUT_MS: '1000' });
    try {
      const { sid, agent, stream } = await placeCall(quick);
      proxy.cut(60_000);
      await stream.closed;
      expect(stream.closeReason).toBe('reconnect_timeout');
      expectApology(stream);
      await quick.server.ctx.registry.settled();
      expect(quick.server.ctx.registry.get(sid)).toBeUndefined();
      // The network comes back after the room was deleted. A reconnect attempt the engine
      // still had in flight must not re-create it (it did: an empty room left behind).
      proxy.restore();
      await proxy.drained();
      expect(await roomExists(`call-${sid}`)).toBe(false);
      await agent.leave();
    } finally {
      proxy.restore();
      await quick.stop();
    }
  });
});

describe('LiveKit gone for good', () => {
  it('plays the apology before the stream closes when livekit-server dies mid-call', async () => {
    const lk = await LocalLiveKit.start();
    const pb = await startPhonebridge({
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
      RECONNECT_TIMEOUT_MS: '1500',
    });
    try {
      const { sid, params } = await admitCall(pb);
      const stream = await TwilioStream.open(pb.url);
      stream.start(sid, params);
      await pb.waitForLog(sid, 'Published phone audio track', 10_000);
      lk.killNow();
      await stream.closed;
      expectApology(stream);
      expect(['reconnect_timeout', 'error']).toContain(stream.closeReason);
      await pb.server.ctx.registry.settled();
      expect(pb.server.ctx.registry.active).toBe(0);
    } finally {
      await pb.stop();
      await lk.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCodes } from '../../src/twilio/stream-messages.js';
import { roomService, waitFor } from '../helpers/livekit.js';
import { admitCall, startPhonebridge, type TestServer } from '../helpers/phonebridge.js';
import { redisServerAvailable, startRedis } from '../helpers/redis.js';
import { TwilioStream } from '../helpers/twilio-stream.js';

// A call belongs to exactly one instance at a time: the one whose webhook admitted it
// until its stream starts, then the one carrying the stream. Behind a round-robin load
// balancer the two are usually different instances.

// The bridge waits this long for an agent; these calls have none and must outlive
// STREAM_START_TIMEOUT_MS without an apology.
const NO_AGENT_NEEDED = { AGENT_JOIN_TIMEOUT_MS: '120000' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function health(pb: TestServer): Promise<Record<string, unknown>> {
  return (await (await fetch(`${pb.url}/health`)).json()) as Record<string, unknown>;
}

async function roomExists(room: string): Promise<boolean> {
  return (await roomService().listRooms([room])).length > 0;
}

/** Opens a stream on `pb` for an admitted call and waits until it is bridged there. */
async function streamOn(
  pb: TestServer,
  sid: string,
  params: Record<string, string>,
): Promise<TwilioStream> {
  const stream = await TwilioStream.open(pb.url);
  stream.start(sid, params);
  await pb.waitForLog(sid, /^Stream started/);
  return stream;
}

/** Opens a stream that phonebridge is expected to refuse; resolves with how it closed. */
async function refusedStream(pb: TestServer, sid: string, params: Record<string, string>) {
  const stream = await TwilioStream.open(pb.url);
  stream.start(sid, params);
  await stream.closed;
  return { code: stream.closeCode, reason: stream.closeReason };
}

async function hangUp(stream: TwilioStream, sid: string, pb: TestServer): Promise<void> {
  stream.stop(sid);
  await stream.closed;
  await pb.server.ctx.registry.settled();
}

describe('one instance: an ended call stays ended', () => {
  let pb: TestServer;
  beforeAll(async () => {
    pb = await startPhonebridge(NO_AGENT_NEEDED);
  });
  afterAll(async () => {
    await pb?.stop();
  });

  it('refuses a stream carrying the token of a call that has ended, though it has not expired', async () => {
    const { sid, params } = await admitCall(pb);
    await hangUp(await streamOn(pb, sid, params), sid, pb);
    expect(await roomExists(params.room!)).toBe(false);
    expect(await refusedStream(pb, sid, params)).toEqual({
      code: CloseCodes.unknownCall,
      reason: 'call has ended',
    });
    expect(pb.server.ctx.registry.active).toBe(0);
    expect(await roomExists(params.room!)).toBe(false);
  });
});

describe.runIf(redisServerAvailable())(
  'two instances sharing Redis: the call moves to its stream',
  () => {
    let redis: Awaited<ReturnType<typeof startRedis>>;
    let a: TestServer;
    let b: TestServer;
    beforeAll(async () => {
      redis = await startRedis();
      const env = { ...NO_AGENT_NEEDED, REDIS_URL: redis.url, STREAM_START_TIMEOUT_MS: '1000' };
      a = await startPhonebridge(env);
      b = await startPhonebridge(env);
    });
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await redis?.stop();
    });

    it('webhook on A, stream on B: B carries the call past A’s stream timeout, counted once', async () => {
      const { sid, params } = await admitCall(a);
      expect(a.server.ctx.registry.active).toBe(1);
      const stream = await streamOn(b, sid, params);
      // A lets go as soon as B claims the call, without ending it.
      await waitFor(() => a.server.ctx.registry.active === 0, 5000, 'A to let go of the call');
      await sleep(2500); // well past A's STREAM_START_TIMEOUT_MS of 1 s
      expect(b.server.ctx.registry.get(sid)?.phase).toBe('streaming');
      expect(await roomExists(params.room!)).toBe(true);
      expect(await health(a)).toMatchObject({ active_calls: 0, fleet_active_calls: 1 });
      expect(await health(b)).toMatchObject({ active_calls: 1, fleet_active_calls: 1 });
      expect(a.logs.some((l) => l.callSid === sid && /^Call ended/.test(String(l.msg)))).toBe(
        false,
      );
      expect(stream.closeCode).toBeUndefined();

      await hangUp(stream, sid, b);
      expect(await roomExists(params.room!)).toBe(false);
      expect(await health(a)).toMatchObject({ fleet_active_calls: 0 });
    });

    it('a token of a call that ended on B opens no stream on A, even while a room of its name exists', async () => {
      const { sid, params } = await admitCall(b);
      await hangUp(await streamOn(b, sid, params), sid, b);
      // A stale room under the call's name must not make the call look alive.
      await roomService().createRoom({ name: params.room!, emptyTimeout: 10 });
      try {
        expect(await refusedStream(a, sid, params)).toEqual({
          code: CloseCodes.unknownCall,
          reason: 'call has ended',
        });
        expect(a.server.ctx.registry.active).toBe(0);
        expect(await health(a)).toMatchObject({ fleet_active_calls: 0 });
      } finally {
        await roomService().deleteRoom(params.room!);
      }
    });

    it('a second stream for a call another instance carries is refused', async () => {
      const { sid, params } = await admitCall(a);
      const first = await streamOn(b, sid, params);
      await waitFor(() => a.server.ctx.registry.active === 0, 5000, 'A to let go of the call');
      expect(await refusedStream(a, sid, params)).toEqual({
        code: CloseCodes.duplicateStream,
        reason: 'call already has a stream',
      });
      expect(b.server.ctx.registry.get(sid)?.phase).toBe('streaming');
      expect(await health(b)).toMatchObject({ active_calls: 1, fleet_active_calls: 1 });
      await hangUp(first, sid, b);
    });
  },
);

describe('two instances without Redis: LiveKit tells who carries the call', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const env = { ...NO_AGENT_NEEDED, STREAM_START_TIMEOUT_MS: '4000' };
    a = await startPhonebridge(env);
    b = await startPhonebridge(env);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('webhook on A, stream on B: at its stream timeout A sees the phone leg and lets go', async () => {
    const { sid, params } = await admitCall(a);
    const stream = await streamOn(b, sid, params);
    await waitFor(
      async () => (await roomService().listParticipants(params.room!)).length > 0,
      10_000,
      "B's phone leg in the room",
    );
    await waitFor(() => a.server.ctx.registry.active === 0, 15_000, 'A to let go of the call');
    await a.waitForLog(sid, 'Stream started on another instance; letting the call go');
    expect(b.server.ctx.registry.get(sid)?.phase).toBe('streaming');
    expect(await roomExists(params.room!)).toBe(true);
    expect(stream.closeCode).toBeUndefined();
    await hangUp(stream, sid, b);
    expect(await roomExists(params.room!)).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedSlots } from '../../src/bridge/shared-slots.js';
import { createLogger } from '../../src/log.js';
import { waitFor } from '../helpers/livekit.js';
import {
  callParams,
  callSid,
  parseTwimlXml,
  startPhonebridge,
  twilioPost,
  type TestServer,
} from '../helpers/phonebridge.js';
import { redisServerAvailable, startRedis } from '../helpers/redis.js';

async function answer(pb: TestServer, sid: string): Promise<'connect' | 'busy'> {
  const twiml = parseTwimlXml(
    await (await twilioPost(pb.url, '/incoming-call', callParams(sid))).text(),
  );
  return twiml.Response.Reject ? 'busy' : 'connect';
}

describe.runIf(redisServerAvailable())(
  'MAX_CONCURRENT_CALLS across instances sharing Redis',
  () => {
    let redis: Awaited<ReturnType<typeof startRedis>>;
    let a: TestServer;
    let b: TestServer;
    beforeAll(async () => {
      redis = await startRedis();
      const env = { REDIS_URL: redis.url, MAX_CONCURRENT_CALLS: '2', SHARED_SLOT_TTL_MS: '3000' };
      a = await startPhonebridge(env);
      b = await startPhonebridge(env);
    });
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await redis?.stop();
    });

    it('turns the third call of the fleet away, whichever instance gets it, and admits again after one ends', async () => {
      const [s1, s2, s3] = [callSid(), callSid(), callSid()];
      expect(await answer(a, s1)).toBe('connect');
      expect(await answer(b, s2)).toBe('connect');
      expect(await answer(a, s3)).toBe('busy'); // instance a holds only one call itself
      await a.server.ctx.registry.settled();
      expect(a.server.ctx.registry.active).toBe(1);
      const health = (await (await fetch(`${b.url}/health`)).json()) as Record<string, unknown>;
      expect(health.fleet_active_calls).toBe(2);

      await twilioPost(a.url, '/call-status', { ...callParams(s1), CallStatus: 'completed' });
      await a.server.ctx.registry.settled();
      expect(await answer(b, s3)).toBe('connect');
      for (const [pb, sid] of [
        [b, s2],
        [b, s3],
      ] as const)
        await twilioPost(pb.url, '/call-status', { ...callParams(sid), CallStatus: 'completed' });
      await b.server.ctx.registry.settled();
    });

    it('frees the slots of an instance that died without releasing them', async () => {
      const log = createLogger({ level: 'silent' });
      const dead = await SharedSlots.connect({
        url: redis.url,
        limit: 2,
        ttlMs: 3000,
        key: 'phonebridge:calls',
        log,
      });
      expect(await dead.acquire(callSid())).toBe('ok');
      expect(await dead.acquire(callSid())).toBe('ok');
      await dead.close(); // no release, no more heartbeats: as if the process was killed
      expect(await answer(a, callSid())).toBe('busy');
      await waitFor(
        async () => (await answer(a, callSid())) === 'connect',
        10_000,
        'expired slots to free up',
      );
    });
  },
);

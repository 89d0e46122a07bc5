import { afterAll, beforeAll, expect, it } from 'vitest';
import { TwilioEmulator } from '../../src/sim/twilio-rest.js';
import type { CalleeScenario } from '../../src/sim/callee.js';
import { AUTH_TOKEN, startPhonebridge, type TestServer } from '../helpers/phonebridge.js';
import { API_KEY, FROM_NUMBER, describeWithRedis } from '../helpers/outbound.js';
import { startRedis } from '../helpers/redis.js';
import { FakeAgent } from '../helpers/fake-agent.js';
import { waitFor } from '../helpers/livekit.js';

async function api(pb: TestServer, method: string, path: string, body?: unknown, headers = {}) {
  const res = await fetch(`${pb.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function fleetCount(pb: TestServer): Promise<number> {
  return ((await (await fetch(`${pb.url}/health`)).json()) as { fleet_active_calls: number })
    .fleet_active_calls;
}

describeWithRedis('outbound calls across instances sharing Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let emu: TwilioEmulator;
  let a: TestServer;
  let b: TestServer;
  const scenarios = new Map<string, CalleeScenario>();
  const PUBLIC = 'http://phonebridge.test';
  let route: (url: string) => TestServer = () => a;

  beforeAll(async () => {
    redis = await startRedis();
    emu = await TwilioEmulator.start({
      authToken: AUTH_TOKEN,
      scenarioFor: (to) => scenarios.get(to) ?? { kind: 'human' },
      // The fleet's one public URL, behind a "load balancer" each test can steer.
      rewrite: (url) => url.replace(PUBLIC, route(url).url),
    });
    const env = {
      REDIS_URL: redis.url,
      MAX_CONCURRENT_CALLS: '1',
      PHONEBRIDGE_API_KEY: API_KEY,
      TWILIO_ACCOUNT_SID: emu.accountSid,
      TWILIO_API_BASE_URL: emu.url,
      TWILIO_FROM_NUMBER: FROM_NUMBER,
      OUTBOUND_ALLOWED_PREFIXES: '+1555',
      OUTBOUND_RING_TIMEOUT_SECONDS: '30',
      PUBLIC_URL: PUBLIC,
    };
    a = await startPhonebridge(env);
    b = await startPhonebridge(env);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await emu?.close();
    await redis?.stop();
  });

  it('counts a ringing outbound call against the fleet limit, shares its record and Idempotency-Key, and frees its slot when it ends', async () => {
    scenarios.set('+15555553001', { kind: 'no-answer' });
    const creates = () => emu.requests.filter((r) => r.path.endsWith('/Calls.json')).length;
    const body = { to: '+15555553001' };
    const key = { 'idempotency-key': 'campaign-7-row-3' };
    const placed = await api(a, 'POST', '/calls', body, key);
    expect(placed.status).toBe(201);
    const sid = placed.json.callSid as string;
    expect(await fleetCount(b)).toBe(1);

    // Instance b is empty itself, but the fleet is full.
    expect((await api(b, 'POST', '/calls', { to: '+15555553002' })).status).toBe(503);
    // The client's retry lands on b: the same answer, no second call.
    const retry = await api(b, 'POST', '/calls', body, key);
    expect(retry).toEqual(placed);
    expect(creates()).toBe(1);
    expect((await api(b, 'GET', `/calls/${sid}`)).json).toMatchObject({
      callSid: sid,
      outcome: null,
    });

    // Hung up through b; Twilio tells a (whose URLs the call was placed with), which frees it.
    expect((await api(b, 'DELETE', `/calls/${sid}`)).status).toBe(200);
    await emu.finished(sid);
    await a.server.ctx.registry.settled();
    expect(a.server.ctx.registry.active).toBe(0);
    expect(await fleetCount(b)).toBe(0);
    expect((await api(b, 'GET', `/calls/${sid}`)).json).toMatchObject({ outcome: 'canceled' });
  });

  it('connects an outbound call whose answer lands on another instance, and still hands the agent its AMD verdict', async () => {
    // The load balancer sends the voice webhook and the stream to b; everything else to a,
    // which placed the call (and so gets the AMD callback without bridging the call).
    route = (url) => (url === PUBLIC || url.startsWith(`${PUBLIC}/outbound-call`) ? b : a);
    let pickUp!: () => void;
    scenarios.set('+15555553003', {
      kind: 'human',
      helloAtMs: 500,
      durationMs: 8000,
      pickUp: new Promise<void>((r) => (pickUp = r)),
    });
    try {
      const placed = await api(a, 'POST', '/calls', { to: '+15555553003' });
      expect(placed.status).toBe(201);
      const sid = placed.json.callSid as string;
      const agent = await FakeAgent.join(placed.json.room as string);
      try {
        pickUp();
        await b.waitForLog(
          sid,
          'Adopted a call admitted elsewhere (stream token verified)',
          15_000,
        );
        const verdict = () =>
          [...agent.room.remoteParticipants.values()].find((p) => p.identity.startsWith('phone-'))
            ?.attributes?.['phonebridge.answered_by'];
        await waitFor(() => verdict() === 'human', 15_000, 'the verdict on the phone participant');
        const report = await emu.finished(sid);
        expect(report.errors).toEqual([]);
        expect(report.stream?.end).toBe('caller-done');
        expect(
          a.logs.some(
            (l) =>
              l.callSid === sid &&
              l.msg === 'Set the AMD verdict on the phone participant through the server API',
          ),
        ).toBe(true);
      } finally {
        await Promise.race([agent.leave(), new Promise((r) => setTimeout(r, 5000))]);
      }
    } finally {
      route = () => a;
    }
    await a.server.ctx.registry.settled();
    await b.server.ctx.registry.settled();
  });
});

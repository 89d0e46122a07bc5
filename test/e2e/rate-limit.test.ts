import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { buildServer, type PhonebridgeServer } from '../../src/server/app.js';
import { twilioSignature } from '../../src/twilio/signature.js';
import { livekit } from '../helpers/livekit.js';
import {
  AUTH_TOKEN,
  callParams,
  callSid,
  parseTwimlXml,
  testConfig,
} from '../helpers/phonebridge.js';

// Requests are injected with the source address they would arrive from (Twilio, a proxy,
// an attacker); admissions reach the run's real livekit-server.
const HOST = 'pb.example.com';
const TWILIO = '198.51.100.7';

const servers: PhonebridgeServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.shutdown();
});

async function server(env: Record<string, string>): Promise<PhonebridgeServer> {
  const s = await buildServer({
    config: testConfig(livekit(), env),
    log: createLogger({ level: 'silent' }),
  });
  servers.push(s);
  return s;
}

interface Post {
  from: string;
  signed: boolean;
  forwardedFor?: string;
  path?: string;
  params?: Record<string, string>;
}

function post(pb: PhonebridgeServer, p: Post) {
  const path = p.path ?? '/incoming-call';
  const params = p.params ?? callParams();
  const headers: Record<string, string> = {
    host: HOST,
    'content-type': 'application/x-www-form-urlencoded',
    'x-twilio-signature': p.signed
      ? twilioSignature(AUTH_TOKEN, `http://${HOST}${path}`, params)
      : 'bm90IGEgc2lnbmF0dXJl',
  };
  if (p.forwardedFor) headers['x-forwarded-for'] = p.forwardedFor;
  return pb.app.inject({
    method: 'POST',
    url: path,
    headers,
    payload: new URLSearchParams(params).toString(),
    remoteAddress: p.from,
  });
}

/** `n` posts, ten at a time, returning their status codes. */
async function many(n: number, make: (i: number) => Promise<{ statusCode: number }>) {
  const codes: number[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, (_, j) => make(i + j)),
    );
    codes.push(...batch.map((r) => r.statusCode));
  }
  return codes;
}

const count = <T>(values: T[], value: T) => values.filter((v) => v === value).length;

describe('rate limits at the webhook edge', () => {
  it('answers 300 signed webhooks from one address in a minute, admitted or busy', async () => {
    const pb = await server({ MAX_CONCURRENT_CALLS: '20' }); // RATE_LIMIT_MAX: 120 a minute
    const sids = Array.from({ length: 300 }, () => callSid());
    const answers: string[] = [];
    const codes = await many(300, async (i) => {
      const res = await post(pb, { from: TWILIO, signed: true, params: callParams(sids[i]) });
      const twiml = parseTwimlXml(res.body).Response as Record<string, unknown>;
      answers.push(twiml.Connect ? 'admitted' : twiml.Reject ? 'busy' : 'other');
      return res;
    });
    expect(count(codes, 200)).toBe(300);
    expect(count(answers, 'admitted')).toBe(20);
    expect(count(answers, 'busy')).toBe(280);
    // Their status callbacks too, from the same address, well past 120 in the window.
    const ended = await many(300, (i) =>
      post(pb, {
        from: TWILIO,
        signed: true,
        path: '/call-status',
        params: { ...callParams(sids[i]), CallStatus: 'completed' },
      }),
    );
    expect(count(ended, 204)).toBe(300);
    await pb.ctx.registry.settled();
    expect(pb.ctx.registry.active).toBe(0);
  });

  it('refuses an unsigned flood per source with 429, and still takes signed calls from that source', async () => {
    const pb = await server({ RATE_LIMIT_MAX: '20' });
    const attacker = '203.0.113.66';
    const flood = await many(30, () => post(pb, { from: attacker, signed: false }));
    expect(flood.slice(0, 20)).toEqual(Array(20).fill(403));
    expect(flood.slice(20)).toEqual(Array(10).fill(429));
    const limited = await post(pb, { from: attacker, signed: false });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatch(/^Too Many Requests/);
    // Twilio behind the same address (one proxy, TRUST_PROXY off) is not turned away.
    const signed = await post(pb, { from: attacker, signed: true });
    expect(signed.statusCode).toBe(200);
    expect(parseTwimlXml(signed.body).Response.Connect).toBeDefined();
    // Another source has its own count.
    expect((await post(pb, { from: '203.0.113.67', signed: false })).statusCode).toBe(403);
    // Forging X-Forwarded-For does not give the flooding source a fresh count.
    const spoofed = await many(10, (i) =>
      post(pb, { from: attacker, signed: false, forwardedFor: `192.0.2.${i + 1}` }),
    );
    expect(spoofed).toEqual(Array(10).fill(429));
    expect((await pb.app.inject({ url: '/metrics' })).body).toMatch(
      /phonebridge_calls_total\{outcome="rate_limited"\} [1-9]/,
    );
  });

  it('with TRUST_PROXY as a hop count, keys on the address our proxy appended', async () => {
    const pb = await server({ RATE_LIMIT_MAX: '20', TRUST_PROXY: '1' });
    const proxy = '10.0.0.5';
    const client = '203.0.113.9';
    // The client writes whatever it likes first; the proxy appends the address it saw.
    const codes = await many(30, (i) =>
      post(pb, { from: proxy, signed: false, forwardedFor: `192.0.2.${i}, ${client}` }),
    );
    expect(count(codes, 403)).toBe(20);
    expect(count(codes, 429)).toBe(10);
    const other = await post(pb, {
      from: proxy,
      signed: false,
      forwardedFor: '203.0.113.10',
    });
    expect(other.statusCode).toBe(403);
  });

  it('with TRUST_PROXY as a CIDR list, believes X-Forwarded-For only from those proxies', async () => {
    const pb = await server({ RATE_LIMIT_MAX: '20', TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' });
    const client = '203.0.113.20';
    const viaProxy = await many(25, () =>
      post(pb, { from: '10.1.2.3', signed: false, forwardedFor: client }),
    );
    expect(count(viaProxy, 429)).toBe(5);
    // A peer that is not one of our proxies is its own source, whatever it forwards.
    const direct = await many(25, (i) =>
      post(pb, { from: '192.0.2.50', signed: false, forwardedFor: `198.18.0.${i}` }),
    );
    expect(count(direct, 403)).toBe(20);
    expect(count(direct, 429)).toBe(5);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { twilioSignature } from '../../src/twilio/signature.js';
import { roomService, waitFor } from '../helpers/livekit.js';
import {
  AUTH_TOKEN,
  callParams,
  callSid,
  parseTwimlXml,
  startPhonebridge,
  streamParams,
  twilioPost,
  type TestServer,
} from '../helpers/phonebridge.js';

const PUBLIC = 'https://voice.example.com';

async function roomNames(): Promise<string[]> {
  return (await roomService().listRooms()).map((r) => r.name);
}

function wsUpgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status?: number; open: boolean; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ open: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ open: false, status: res.statusCode });
      ws.terminate();
    });
    ws.once('error', () => resolve({ open: false }));
  });
}

describe('Twilio edge: /incoming-call behind a proxy (PUBLIC_URL set)', () => {
  let pb: TestServer;
  beforeAll(async () => {
    pb = await startPhonebridge({ PUBLIC_URL: PUBLIC });
  });
  afterAll(async () => {
    await pb.stop();
  });

  it('admits a signed call: room created, TwiML connects the stream with call context as Parameters', async () => {
    const sid = callSid();
    const res = await twilioPost(pb.url, '/incoming-call', callParams(sid), { signedBase: PUBLIC });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/xml/);
    const twiml = parseTwimlXml(await res.text());
    const stream = twiml.Response.Connect.Stream;
    expect(stream['@url']).toBe('wss://voice.example.com/media-stream');
    expect(stream['@url']).not.toContain('?');
    const params = streamParams(twiml);
    expect(params).toMatchObject({
      callSid: sid,
      from: '+15551234567',
      to: '+15557654321',
      room: `call-${sid}`,
    });
    expect(params.streamToken).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]+$/);
    expect(twiml.Response.Say).toBeTruthy();
    expect(twiml.Response).toHaveProperty('Hangup');
    const rooms = await roomService().listRooms([`call-${sid}`]);
    expect(rooms).toHaveLength(1);
    expect(JSON.parse(rooms[0]!.metadata)).toEqual({
      callSid: sid,
      from: '+15551234567',
      to: '+15557654321',
    });
    expect(
      pb.logs.some((l) => l.msg === `Incoming call: ${sid} from +1555***4567 to +1555***4321`),
    ).toBe(true);
    expect(pb.logs.some((l) => l.msg === `Created room 'call-${sid}' for call ${sid}`)).toBe(true);
    // Phone numbers are masked at info level.
    expect(
      pb.logs
        .filter((l) => (l.level as number) >= 30)
        .some((l) => JSON.stringify(l).includes('+15551234567')),
    ).toBe(false);
    await twilioPost(
      pb.url,
      '/call-status',
      { ...callParams(sid), CallStatus: 'completed', CallDuration: '3' },
      { signedBase: PUBLIC },
    );
    await pb.server.ctx.registry.settled();
  });

  it('answers a repeated webhook with the same TwiML and holds one slot', async () => {
    const sid = callSid();
    const before = pb.server.ctx.registry.active;
    const [a, b] = await Promise.all([
      twilioPost(pb.url, '/incoming-call', callParams(sid), { signedBase: PUBLIC }),
      twilioPost(pb.url, '/incoming-call', callParams(sid), { signedBase: PUBLIC }),
    ]);
    expect(await a.text()).toBe(await b.text());
    expect(pb.server.ctx.registry.active).toBe(before + 1);
    await twilioPost(
      pb.url,
      '/call-status',
      { ...callParams(sid), CallStatus: 'completed' },
      { signedBase: PUBLIC },
    );
    await pb.server.ctx.registry.settled();
  });

  const refused: [string, (sid: string) => Promise<Response>][] = [
    [
      'a missing signature',
      (sid) =>
        twilioPost(pb.url, '/incoming-call', callParams(sid), {
          signedBase: PUBLIC,
          signature: null,
        }),
    ],
    [
      'a signature made with the wrong token',
      (sid) =>
        twilioPost(pb.url, '/incoming-call', callParams(sid), {
          signedBase: PUBLIC,
          token: 'wrong-token-0123456789',
        }),
    ],
    [
      'a tampered parameter',
      (sid) =>
        twilioPost(pb.url, '/incoming-call', callParams(sid), {
          signedBase: PUBLIC,
          signature: twilioSignature(AUTH_TOKEN, `${PUBLIC}/incoming-call`, callParams(sid)),
          body: new URLSearchParams({ ...callParams(sid), From: '+15550000000' }).toString(),
        }),
    ],
    [
      'an extra parameter',
      (sid) =>
        twilioPost(pb.url, '/incoming-call', callParams(sid), {
          signedBase: PUBLIC,
          signature: twilioSignature(AUTH_TOKEN, `${PUBLIC}/incoming-call`, callParams(sid)),
          body: new URLSearchParams({ ...callParams(sid), Extra: 'x' }).toString(),
        }),
    ],
    [
      'a signature over the local URL instead of PUBLIC_URL',
      (sid) => twilioPost(pb.url, '/incoming-call', callParams(sid)),
    ],
  ];
  for (const [what, send] of refused) {
    it(`refuses ${what} with 403 and makes no room`, async () => {
      const sid = callSid();
      const res = await send(sid);
      expect(res.status).toBe(403);
      expect(await res.text()).toMatch(/X-Twilio-Signature/);
      expect(await roomNames()).not.toContain(`call-${sid}`);
      expect(pb.logs.some((l) => l.callSid === sid && /Refused request/.test(String(l.msg)))).toBe(
        true,
      );
    });
  }

  it('counts refused signatures in /metrics', async () => {
    const refusals = async (): Promise<number> => {
      const text = await (await fetch(`${pb.url}/metrics`)).text();
      const m = /phonebridge_calls_total\{outcome="signature_invalid"\} (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const before = await refusals();
    const res = await twilioPost(pb.url, '/incoming-call', callParams(), {
      signedBase: PUBLIC,
      signature: null,
    });
    expect(res.status).toBe(403);
    expect(await refusals()).toBe(before + 1);
    // One webhook answered, so its latency is on the histogram.
    const answered = await twilioPost(
      pb.url,
      '/call-status',
      { ...callParams(), CallStatus: 'ringing' },
      { signedBase: PUBLIC },
    );
    expect(answered.status).toBe(204);
    const text = await (await fetch(`${pb.url}/metrics`)).text();
    expect(text).toMatch(/process_cpu_seconds_total/);
    expect(text).toMatch(/phonebridge_webhook_duration_seconds_bucket/);
  });

  it('validates the WebSocket upgrade signature over the public wss URL, before upgrading', async () => {
    const wsUrl = pb.url.replace('http', 'ws') + '/media-stream';
    const good = twilioSignature(AUTH_TOKEN, 'wss://voice.example.com/media-stream', {});
    const bad = await wsUpgrade(wsUrl, { 'x-twilio-signature': 'AAAA' });
    expect(bad).toEqual({ open: false, status: 403 });
    const missing = await wsUpgrade(wsUrl, {});
    expect(missing).toEqual({ open: false, status: 403 });
    const local = await wsUpgrade(wsUrl, {
      'x-twilio-signature': twilioSignature(AUTH_TOKEN, wsUrl, {}),
    });
    expect(local.status).toBe(403);
    const ok = await wsUpgrade(wsUrl, { 'x-twilio-signature': good });
    expect(ok.open).toBe(true);
    ok.ws!.close();
  });

  it('rejects bad input with 4xx and a reason, and makes no room', async () => {
    const sid = callSid();
    const cases: [Response, number, RegExp][] = [
      [
        await twilioPost(pb.url, '/incoming-call', callParams(sid, { CallSid: '' }), {
          signedBase: PUBLIC,
        }),
        400,
        /CallSid/,
      ],
      [
        await twilioPost(
          pb.url,
          '/incoming-call',
          { ...callParams(sid), CallSid: 'CA123' },
          { signedBase: PUBLIC },
        ),
        400,
        /CallSid/,
      ],
      [
        await twilioPost(
          pb.url,
          '/incoming-call',
          { ...callParams(sid), AccountSid: 'nope' },
          { signedBase: PUBLIC },
        ),
        400,
        /AccountSid/,
      ],
      [
        await twilioPost(pb.url, '/incoming-call', callParams(sid), {
          signedBase: PUBLIC,
          body: `${new URLSearchParams(callParams(sid)).toString()}&CallSid=${sid}`,
        }),
        400,
        /duplicate parameter CallSid/,
      ],
      [
        // Signed (over the JSON's no form fields): refused for its content type, not its signature.
        await twilioPost(
          pb.url,
          '/incoming-call',
          {},
          { signedBase: PUBLIC, contentType: 'application/json', body: '{}' },
        ),
        415,
        /./,
      ],
      [
        await twilioPost(pb.url, '/incoming-call', callParams(sid), {
          signedBase: PUBLIC,
          body: 'x='.padEnd(40_000, 'a'),
        }),
        413,
        /./,
      ],
    ];
    for (const [res, status, reason] of cases) {
      expect(res.status).toBe(status);
      expect(await res.text()).toMatch(reason);
    }
    const noSid = { ...callParams(sid) } as Record<string, string>;
    delete noSid.CallSid;
    const missing = await twilioPost(pb.url, '/incoming-call', noSid, { signedBase: PUBLIC });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toMatch(/CallSid/);
    expect(await roomNames()).not.toContain(`call-${sid}`);
    expect((await fetch(`${pb.url}/health`)).status).toBe(200);
  });

  it('a terminal status callback ends the call and deletes its room', async () => {
    const sid = callSid();
    await twilioPost(pb.url, '/incoming-call', callParams(sid), { signedBase: PUBLIC });
    expect(await roomNames()).toContain(`call-${sid}`);
    const res = await twilioPost(
      pb.url,
      '/call-status',
      { ...callParams(sid), CallStatus: 'completed', CallDuration: '12' },
      { signedBase: PUBLIC },
    );
    expect(res.status).toBe(204);
    await waitFor(async () => !(await roomNames()).includes(`call-${sid}`), 5000, 'room deletion');
    expect(pb.server.ctx.registry.get(sid)).toBeUndefined();
    await waitFor(
      () =>
        pb.logs.some(
          (l) => l.callSid === sid && /Call ended \(status_callback\)/.test(String(l.msg)),
        ),
      2000,
      'end log',
    );
  });

  it('reports health with active calls', async () => {
    const res = await fetch(`${pb.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      active_calls: expect.any(Number) as number,
      capacity: 150,
    });
  });
});

describe('Twilio edge: no PUBLIC_URL', () => {
  it('validates against the URL rebuilt from X-Forwarded-Proto and X-Forwarded-Host', async () => {
    const pb = await startPhonebridge();
    try {
      const sid = callSid();
      const res = await twilioPost(pb.url, '/incoming-call', callParams(sid), {
        signedBase: 'https://tunnel.example.net',
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'tunnel.example.net' },
      });
      expect(res.status).toBe(200);
      const twiml = parseTwimlXml(await res.text());
      expect(twiml.Response.Connect.Stream['@url']).toBe('wss://tunnel.example.net/media-stream');
      const direct = await twilioPost(pb.url, '/incoming-call', callParams(callSid()));
      expect(direct.status).toBe(200); // signed over the Host it was sent to
    } finally {
      await pb.stop();
    }
  });
});

describe('Twilio edge: capacity', () => {
  it('turns the third concurrent call away as busy, admits again once one ends', async () => {
    const pb = await startPhonebridge({ MAX_CONCURRENT_CALLS: '2' });
    try {
      const sids = [callSid(), callSid(), callSid(), callSid()];
      for (const sid of sids.slice(0, 2))
        expect((await twilioPost(pb.url, '/incoming-call', callParams(sid))).status).toBe(200);
      const busy = parseTwimlXml(
        await (await twilioPost(pb.url, '/incoming-call', callParams(sids[2]))).text(),
      );
      expect(busy.Response.Reject['@reason']).toBe('busy');
      expect(await roomNames()).not.toContain(`call-${sids[2]}`);
      expect(await (await fetch(`${pb.url}/metrics`)).text()).toMatch(
        /phonebridge_calls_total\{outcome="rejected_busy"\} 1/,
      );
      await twilioPost(pb.url, '/call-status', { ...callParams(sids[0]), CallStatus: 'completed' });
      await pb.server.ctx.registry.settled();
      const admitted = parseTwimlXml(
        await (await twilioPost(pb.url, '/incoming-call', callParams(sids[3]))).text(),
      );
      expect(admitted.Response.Connect).toBeTruthy();
    } finally {
      await pb.stop();
    }
  });

  it('frees the slot and the room of a stream that never arrives', async () => {
    const pb = await startPhonebridge({
      MAX_CONCURRENT_CALLS: '1',
      STREAM_START_TIMEOUT_MS: '1000',
    });
    try {
      const sid = callSid();
      await twilioPost(pb.url, '/incoming-call', callParams(sid));
      expect(pb.server.ctx.registry.active).toBe(1);
      await waitFor(() => pb.server.ctx.registry.active === 0, 5000, 'slot release');
      await waitFor(
        async () => !(await roomNames()).includes(`call-${sid}`),
        5000,
        'room deletion',
      );
      const next = parseTwimlXml(
        await (await twilioPost(pb.url, '/incoming-call', callParams(callSid()))).text(),
      );
      expect(next.Response.Connect).toBeTruthy();
    } finally {
      await pb.stop();
    }
  });
});

describe('Twilio edge: LiveKit down', () => {
  it('apologises and hangs up, reports degraded health, leaks no slot', async () => {
    const pb = await startPhonebridge({
      LIVEKIT_URL: 'ws://127.0.0.1:9',
      ERROR_MESSAGE: 'We are sorry, please call back.',
    });
    try {
      const res = await twilioPost(pb.url, '/incoming-call', callParams());
      expect(res.status).toBe(200);
      const twiml = parseTwimlXml(await res.text());
      expect(twiml.Response.Say).toBe('We are sorry, please call back.');
      expect(twiml.Response).toHaveProperty('Hangup');
      expect(twiml.Response.Connect).toBeUndefined();
      await pb.server.ctx.registry.settled();
      expect(pb.server.ctx.registry.active).toBe(0);
      await new Promise((r) => setTimeout(r, 2100)); // past the health cache
      const health = await fetch(`${pb.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({
        status: 'degraded',
        reason: expect.stringMatching(/LiveKit/) as string,
      });
    } finally {
      await pb.stop();
    }
  });
});

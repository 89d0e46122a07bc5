import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { roomService, waitFor } from '../helpers/livekit.js';
import { API_KEY, useOutboundStack, type OutboundStack } from '../helpers/outbound.js';

const creates = (s: OutboundStack) =>
  s.emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Calls.json'));

async function roomExists(room: string): Promise<boolean> {
  return (await roomService().listRooms([room])).some((r) => r.name === room);
}

/** Waits until the call is over on both sides: Twilio's last callback answered, slot freed. */
async function settled(s: OutboundStack, callSid: string): Promise<void> {
  await s.emu.finished(callSid);
  await s.pb.server.ctx.registry.settled();
}

describe('POST /calls: who may dial what', () => {
  const stack = useOutboundStack();

  it('answers 401 without a key or with a wrong one, and dials nothing', async () => {
    const s = stack();
    const before = creates(s).length;
    const none = await s.api('POST', '/calls', { to: '+15555550123' }, { key: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.json.error.code).toBe('PB_ERR_API_AUTH');
    const wrong = await s.api(
      'POST',
      '/calls',
      { to: '+15555550123' },
      { key: 'not-the-key-0123456789abcdef' },
    );
    expect(wrong.status).toBe(401);
    const read = await s.api('GET', `/calls/CA${'0'.repeat(32)}`, undefined, { key: 'nope' });
    expect(read.status).toBe(401);
    expect(creates(s).length).toBe(before);
  });

  it('answers 403 for a number outside OUTBOUND_ALLOWED_PREFIXES, and dials nothing', async () => {
    const s = stack();
    const before = creates(s).length;
    const r = await s.api('POST', '/calls', { to: '+442071838750' });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('PB_ERR_NUMBER_NOT_ALLOWED');
    expect(creates(s).length).toBe(before);
    expect(s.pb.server.ctx.registry.active).toBe(0);
  });

  it('answers 400 with the reason for bad JSON, a bad number, an unknown field or oversized metadata', async () => {
    const s = stack();
    const before = creates(s).length;
    const badJson = await s.api('POST', '/calls', '{"to": "+1555', {});
    expect(badJson.status).toBe(400);
    expect(badJson.json.error.code).toBe('PB_ERR_BAD_REQUEST');
    const badNumber = await s.api('POST', '/calls', { to: '555-0123' });
    expect(badNumber.status).toBe(400);
    expect(badNumber.json.error.message).toMatch(/^to must be an E\.164 number/);
    const unknown = await s.api('POST', '/calls', {
      to: '+15555550123',
      machineDetection: 'Enable',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/machineDetection/);
    const big = await s.api('POST', '/calls', {
      to: '+15555550123',
      metadata: { notes: 'x'.repeat(5000) },
    });
    expect(big.status).toBe(400);
    expect(big.json.error.message).toMatch(/^metadata must be at most 4096 bytes/);
    const notJson = await s.api('POST', '/calls', 'to=%2B15555550123', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(notJson.status).toBe(415);
    expect(creates(s).length).toBe(before);
  });
});

describe('POST /calls: unanswered calls free everything', () => {
  const stack = useOutboundStack({ OUTBOUND_RING_TIMEOUT_SECONDS: '5' });

  it('busy: the room is deleted before anyone joins, no call is left, the outcome is recorded', async () => {
    const s = stack();
    s.scenarios.set('+15555550001', { kind: 'busy', ringMs: 1000 });
    const placed = await s.dial({ to: '+15555550001', metadata: { order: 42 } });
    expect(placed.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(placed.room).toMatch(/^call-out-[0-9a-f]{16}$/);
    expect(placed.status).toBe('queued');
    // The room is there while it rings: the agent would be waiting in it.
    expect(await roomExists(placed.room)).toBe(true);
    await settled(s, placed.callSid);
    expect(s.pb.server.ctx.registry.active).toBe(0);
    expect(await roomExists(placed.room)).toBe(false);
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.status).toBe(200);
    expect(rec.json).toMatchObject({
      callSid: placed.callSid,
      direction: 'outbound',
      to: '+15555550001',
      status: 'busy',
      outcome: 'busy',
      endReason: 'status_callback',
    });
    expect(rec.json.history.map((h: { status: string }) => h.status)).toEqual([
      'queued',
      'initiated',
      'ringing',
      'busy',
    ]);
  });

  it('no-answer: rings out after OUTBOUND_RING_TIMEOUT_SECONDS, then the same', async () => {
    const s = stack();
    s.scenarios.set('+15555550002', { kind: 'no-answer' });
    const placed = await s.dial({ to: '+15555550002' });
    const create = creates(s).at(-1)!;
    expect(create.params.Timeout).toBe('5');
    await settled(s, placed.callSid);
    expect(s.pb.server.ctx.registry.active).toBe(0);
    expect(await roomExists(placed.room)).toBe(false);
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.json).toMatchObject({ status: 'no-answer', outcome: 'no-answer' });
  });

  it('phonebridge dial --wait follows the call, printing each status until it ends', async () => {
    const s = stack();
    s.scenarios.set('+15555550007', { kind: 'busy', ringMs: 1000 });
    const child = spawn(
      process.execPath,
      [
        'bin/phonebridge.js',
        'dial',
        '+15555550007',
        '--url',
        s.pb.url,
        '--wait',
        '--poll-ms',
        '200',
        '--metadata',
        '{"order":7}',
      ],
      {
        env: { ...process.env, PHONEBRIDGE_API_KEY: API_KEY },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    const lines = out.trim().split('\n');
    const sid = /^(CA[0-9a-f]{32}) {2}queued {2}\(room call-out-[0-9a-f]{16}\)$/.exec(
      lines[0] ?? '',
    )?.[1];
    expect(sid, out).toBeDefined();
    expect(lines.slice(1)).toEqual([
      `${sid}  initiated`,
      `${sid}  ringing`,
      `${sid}  busy`,
      `${sid}  outcome: busy (status_callback)`,
    ]);
    expect(code).toBe(1);
  });

  it('answers 404 for a call it never placed', async () => {
    const r = await stack().api('GET', `/calls/CA${'e'.repeat(32)}`);
    expect(r.status).toBe(404);
  });
});

describe('POST /calls: capacity, hang-up and idempotency', () => {
  const stack = useOutboundStack({
    MAX_CONCURRENT_CALLS: '1',
    OUTBOUND_RING_TIMEOUT_SECONDS: '30',
  });

  it('answers 503 with Retry-After at capacity without dialling; DELETE hangs the ringing call up', async () => {
    const s = stack();
    s.scenarios.set('+15555550003', { kind: 'no-answer' });
    const first = await s.dial({ to: '+15555550003' });
    const before = creates(s).length;
    const second = await s.api('POST', '/calls', { to: '+15555550003' });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('5');
    expect(second.json.error.code).toBe('PB_ERR_CAPACITY');
    expect(creates(s).length).toBe(before);

    const hung = await s.api('DELETE', `/calls/${first.callSid}`);
    expect(hung.status).toBe(200);
    const update = s.emu.requests.at(-1)!;
    expect(update).toMatchObject({
      method: 'POST',
      path: `/2010-04-01/Accounts/${s.emu.accountSid}/Calls/${first.callSid}.json`,
      authorized: true,
    });
    expect(update.params).toEqual({ Status: 'completed' });
    await settled(s, first.callSid);
    expect(await roomExists(first.room)).toBe(false);
    const rec = await s.api('GET', `/calls/${first.callSid}`);
    expect(rec.json).toMatchObject({ outcome: 'canceled', endReason: 'api_hangup' });
    expect((await s.api('DELETE', `/calls/${first.callSid}`)).status).toBe(409);
  });

  it('answers a retry with the same Idempotency-Key with the first answer, without dialling twice', async () => {
    const s = stack();
    s.scenarios.set('+15555550004', { kind: 'busy', ringMs: 1500 });
    const before = creates(s).length;
    const body = { to: '+15555550004', metadata: { attempt: 1 } };
    const headers = { 'idempotency-key': 'reminder-42' };
    // Concurrent, as a client that timed out and retried at once would send them.
    const [a, b] = await Promise.all([
      s.api('POST', '/calls', body, { headers }),
      s.api('POST', '/calls', body, { headers }),
    ]);
    const c = await s.api('POST', '/calls', body, { headers });
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    expect(b.json).toEqual(a.json);
    expect(c.json).toEqual(a.json);
    expect(c.headers.get('idempotent-replayed')).toBe('true');
    expect(creates(s).length).toBe(before + 1);
    const other = await s.api('POST', '/calls', { ...body, to: '+15555550005' }, { headers });
    expect(other.status).toBe(422);
    expect(creates(s).length).toBe(before + 1);
    await settled(s, a.json.callSid);
  });

  it('keeps the slot while the call rings, and frees it when the line is busy', async () => {
    const s = stack();
    s.scenarios.set('+15555550006', { kind: 'busy', ringMs: 1000 });
    const placed = await s.dial({ to: '+15555550006' });
    expect(s.pb.server.ctx.registry.get(placed.callSid)?.direction).toBe('outbound');
    await waitFor(() => s.pb.server.ctx.registry.active === 0, 10_000, 'slot freed');
    await settled(s, placed.callSid);
  });
});

describe('POST /calls: rate limit per API key', () => {
  const other = 'second-key-for-rotation-0123456789';
  const stack = useOutboundStack({
    PHONEBRIDGE_API_KEY: `${API_KEY},${other}`,
    API_RATE_LIMIT_MAX: '2',
  });

  it('answers 429 with Retry-After once a key used its budget; another key keeps its own', async () => {
    const s = stack();
    const bad = { to: 'not-a-number' };
    expect((await s.api('POST', '/calls', bad)).status).toBe(400);
    expect((await s.api('POST', '/calls', bad)).status).toBe(400);
    const limited = await s.api('POST', '/calls', bad);
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('PB_ERR_RATE_LIMIT');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await s.api('POST', '/calls', bad, { key: other })).status).toBe(400);
  });
});

describe('POST /calls: a call phonebridge drops while it rings', () => {
  const stack = useOutboundStack({ OUTBOUND_RING_TIMEOUT_SECONDS: '30' });

  it('is canceled at Twilio, so nobody picks up into nothing (e.g. at shutdown)', async () => {
    const s = stack();
    s.scenarios.set('+15555550008', { kind: 'no-answer' });
    const placed = await s.dial({ to: '+15555550008' });
    const call = s.pb.server.ctx.registry.get(placed.callSid)!;
    await s.pb.server.ctx.registry.end(call, 'shutdown');
    const report = await s.emu.finished(placed.callSid);
    expect(report.updates).toEqual([{ Status: 'completed' }]);
    expect(report.status).toBe('canceled');
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.json).toMatchObject({ outcome: 'canceled', endReason: 'shutdown' });
  });
});

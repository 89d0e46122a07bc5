import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { twilioCallControl } from '../twilio/call-control.js';
import { twilioFailure } from '../twilio/rest-client.js';
import { TwilioEmulator } from './twilio-rest.js';

const TOKEN = 'emulator-test-token-0123456789';

/** Records signed form posts, as phonebridge's webhooks would receive them. */
async function callbackSink(): Promise<{
  url: string;
  posts: { path: string; params: Record<string, string>; validSignature: boolean }[];
  close: () => Promise<void>;
}> {
  const posts: { path: string; params: Record<string, string>; validSignature: boolean }[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += String(c)));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(text));
      const sig = String(req.headers['x-twilio-signature'] ?? '');
      posts.push({
        path: req.url ?? '',
        params,
        validSignature: twilio.validateRequest(TOKEN, sig, `${url}${req.url ?? ''}`, params),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, posts, close: () => new Promise((r) => server.close(() => r())) };
}

describe('Twilio REST emulation', () => {
  let emu: TwilioEmulator;
  let sink: Awaited<ReturnType<typeof callbackSink>>;
  const log = createLogger({ level: 'silent' });

  beforeAll(async () => {
    emu = await TwilioEmulator.start({
      authToken: TOKEN,
      scenarioFor: () => ({ kind: 'busy', ringMs: 50 }),
    });
    sink = await callbackSink();
  });
  afterAll(async () => {
    await emu?.close();
    await sink?.close();
  });

  it('refuses requests without the account credentials, as Twilio does (401, code 20003)', async () => {
    const res = await fetch(`${emu.url}/2010-04-01/Accounts/${emu.accountSid}/Calls.json`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${emu.accountSid}:wrong-token`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'To=%2B15555550123&From=%2B15555550100&Url=https%3A%2F%2Fx.test%2F',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 20003, status: 401 });
    expect(emu.calls.size).toBe(0);
  });

  it('takes the official client through TWILIO_API_BASE_URL, answers the Calls resource, and sends signed status callbacks in order', async () => {
    const control = twilioCallControl(emu.accountSid, TOKEN, log, emu.url);
    const placed = await control.place({
      to: '+15555550123',
      from: '+15555550100',
      url: `${sink.url}/outbound-call?ref=x`,
      statusCallback: `${sink.url}/call-status`,
      asyncAmdStatusCallback: `${sink.url}/amd-status`,
      timeoutSeconds: 30,
    });
    expect(placed.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(placed.status).toBe('queued');
    const create = emu.requests.at(-1)!;
    expect(create).toMatchObject({
      method: 'POST',
      path: `/2010-04-01/Accounts/${emu.accountSid}/Calls.json`,
      authorized: true,
      status: 201,
    });
    expect(create.params).toMatchObject({
      To: '+15555550123',
      From: '+15555550100',
      MachineDetection: 'DetectMessageEnd',
      AsyncAmd: 'true',
      AsyncAmdStatusCallback: `${sink.url}/amd-status`,
      Timeout: '30',
    });
    expect(create.repeated.StatusCallbackEvent).toEqual([
      'initiated',
      'ringing',
      'answered',
      'completed',
    ]);

    const report = await emu.finished(placed.sid);
    expect(report.statuses).toEqual(['initiated', 'ringing', 'busy']);
    const statusPosts = sink.posts.filter((p) => p.path === '/call-status');
    expect(statusPosts.map((p) => p.params.SequenceNumber)).toEqual(['0', '1', '2']);
    expect(statusPosts.every((p) => p.validSignature)).toBe(true);
    expect(statusPosts[0]!.params).toMatchObject({
      CallSid: placed.sid,
      AccountSid: emu.accountSid,
      Direction: 'outbound-api',
      CallbackSource: 'call-progress-events',
    });
    // A busy line is never answered: no TwiML fetched, no AMD verdict.
    expect(sink.posts.some((p) => p.path.startsWith('/outbound-call'))).toBe(false);

    // Hanging up an ended call is Twilio's 21220; a call it never had is 404.
    await expect(control.hangup(placed.sid)).resolves.toBeUndefined();
    const unknown = await control.hangup('CA' + '0'.repeat(32)).catch(twilioFailure);
    expect(unknown).toMatchObject({ status: 404, code: 20404 });
  });

  it("answers Twilio's 21211 for a number it cannot dial", async () => {
    const control = twilioCallControl(emu.accountSid, TOKEN, log, emu.url);
    const failure = await control
      .place({
        to: '+1',
        from: '+15555550100',
        url: `${sink.url}/outbound-call`,
        statusCallback: `${sink.url}/call-status`,
        asyncAmdStatusCallback: `${sink.url}/amd-status`,
        timeoutSeconds: 30,
      })
      .catch(twilioFailure);
    expect(failure).toMatchObject({ status: 400, code: 21211 });
  });
});

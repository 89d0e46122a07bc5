import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall, type CallOptions } from './call.js';
import {
  startFakePhonebridge,
  type FakeMode,
  type FakePhonebridge,
} from './testing/fake-phonebridge.js';

const token = 'test-auth-token-0123456789abcdef';
const publicUrl = 'https://pb.example.test';
let fake: FakePhonebridge;
const seen = () => fake.seen;
const reset = (mode: FakeMode): void => fake.reset(mode);

beforeAll(async () => {
  fake = await startFakePhonebridge(token, publicUrl);
});
afterAll(async () => {
  await fake.close();
});

const base = (): CallOptions => ({
  url: fake.url,
  publicUrl,
  authToken: token,
  source: { kind: 'bursts', durationMs: 3000 },
  listenMs: 1000,
});

describe('simulateCall against a fake phonebridge', () => {
  it('follows <Connect><Stream>, streams paced audio, hears the echo and reports the round trip', async () => {
    reset('stream');
    const r = await simulateCall(
      { ...base(), trouble: { dtmf: [{ digit: '5', atMs: 1000 }] } },
      new AbortController().signal,
    );
    expect(seen().badSignatures).toBe(0);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.end).toBe('caller-done');
    expect(r.twiml).toEqual([
      'Connect>Stream(wss://pb.example.test/media-stream)',
      'Say("Goodbye.")',
    ]);

    const wh = seen().webhooks[0]!;
    expect(wh.CallSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(wh.AccountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(wh).toMatchObject({
      CallStatus: 'ringing',
      Direction: 'inbound',
      ApiVersion: '2010-04-01',
    });

    const [connected, start, ...rest] = seen().messages;
    expect(connected).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(start).toMatchObject({
      event: 'start',
      sequenceNumber: '1',
      start: {
        callSid: wh.CallSid,
        tracks: ['inbound'],
        customParameters: { callSid: wh.CallSid, room: 'call-room' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    const seqs = rest.map((m) => ('sequenceNumber' in m ? m.sequenceNumber : undefined));
    expect(seqs).toEqual(rest.map((_, i) => String(i + 2)));
    const media = rest.filter((m) => m.event === 'media');
    expect(media).toHaveLength(200); // 3 s of audio + 1 s listening, 20 ms each
    expect(rest.filter((m) => m.event === 'dtmf')).toHaveLength(1);
    expect(rest.filter((m) => m.event === 'mark')).toEqual([
      expect.objectContaining({ mark: { name: 'first-echo' } }),
    ]);
    expect(rest.at(-1)).toMatchObject({ event: 'stop', stop: { callSid: wh.CallSid } });

    const s = r.stream!;
    expect(s.frames).toMatchObject({ sent: 200, lost: 0, dtmfSent: 1 });
    expect(s.frames.received).toBeGreaterThan(190);
    expect(s.marks).toEqual({ received: 1, played: 1, cleared: 0 });
    expect(s.roundTripMs.length).toBeGreaterThanOrEqual(2);
    // An immediate echo: one frame to be sent, up to one more to reach the playback clock.
    for (const d of s.roundTripMs) expect(d).toBeLessThan(120);
    // The fake echoes in real time with no lead; the half-frame playback phase absorbs that.
    expect(s.underruns.count).toBeLessThanOrEqual(2);
    expect(s.timeToFirstAgentAudioMs).toBeGreaterThan(450);
    expect(seen().statuses[0]).toMatchObject({
      CallSid: wh.CallSid,
      CallStatus: 'completed',
      CallDuration: '4',
    });
  });

  it('hangs up mid-call with stop when asked', async () => {
    reset('stream');
    const r = await simulateCall({ ...base(), hangupAtMs: 700 }, new AbortController().signal);
    expect(r.end).toBe('caller-hangup');
    expect(r.stream!.frames.sent).toBeLessThanOrEqual(36);
    expect(seen().messages.at(-1)?.event).toBe('stop');
    expect(seen().statuses[0]).toMatchObject({ CallStatus: 'completed', CallDuration: '1' });
  });

  it('reports <Reject> as a busy call that was never answered', async () => {
    reset('reject');
    const r = await simulateCall(base(), new AbortController().signal);
    expect(r).toMatchObject({ end: 'rejected', rejected: true, ok: true, stream: null });
    expect(seen().statuses[0]).toMatchObject({ CallStatus: 'busy', CallDuration: '0' });
  });

  it('reports <Say> + <Hangup> as what the caller heard', async () => {
    reset('say-hangup');
    const r = await simulateCall(base(), new AbortController().signal);
    expect(r).toMatchObject({ end: 'twiml-hangup', rejected: true, said: ['Sorry, we are busy.'] });
  });

  it('reports <Dial><Sip> as a transfer it cannot follow', async () => {
    reset('sip');
    const r = await simulateCall(base(), new AbortController().signal);
    expect(r.end).toBe('sip-transfer');
    expect(r.twiml).toEqual(['Dial(Sip sip:room@sip.example.test;transport=tcp)']);
  });

  it('runs the TwiML after </Connect> when the server closes the stream', async () => {
    reset('close-4005');
    const r = await simulateCall(base(), new AbortController().signal);
    expect(r.end).toBe('server-closed');
    expect(r.stream).toMatchObject({ closeCode: 4005, closeReason: 'agent unavailable' });
    expect(r.said).toEqual(['Goodbye.']);
    expect(r.ok).toBe(false);
  });

  it('honours clear: queued agent audio stops and the pending mark comes back', async () => {
    reset('clear');
    const r = await simulateCall(
      {
        ...base(),
        source: { kind: 'tone', freqHz: 300, durationMs: 200 },
        trouble: { dtmf: [{ digit: '1', atMs: 600 }] },
      },
      new AbortController().signal,
    );
    expect(r.stream).toMatchObject({ clears: 1, marks: { received: 1, played: 0, cleared: 1 } });
    expect(seen().messages.filter((m) => m.event === 'mark')).toHaveLength(1);
    // Agent audio was heard from the start until the clear, then silence.
    expect(r.stream!.agentSpeechMs).toBeGreaterThan(500);
    expect(r.stream!.agentSpeechMs).toBeLessThan(800);
  });

  it('is an application error when the signature is refused', async () => {
    reset('stream');
    const r = await simulateCall(
      { ...base(), authToken: 'wrong-token-0000000000' },
      new AbortController().signal,
    );
    expect(r).toMatchObject({ end: 'application-error', ok: false, webhook: { status: 403 } });
  });

  it('hangs up cleanly when aborted, still telling the server the call is over', async () => {
    reset('stream');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    const r = await simulateCall({ ...base(), listenMs: 60_000 }, ac.signal);
    expect(r.end).toBe('aborted');
    expect(seen().messages.at(-1)?.event).toBe('stop');
    expect(seen().statuses).toHaveLength(1);
  });
});

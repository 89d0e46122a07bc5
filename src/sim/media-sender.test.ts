import { describe, expect, it } from 'vitest';
import { mediaMessage, dtmfMessage } from '../twilio/stream-messages.js';
import { tone } from '../audio/analysis.js';
import { VirtualClock } from './clock.js';
import { sendMedia, type TroubleOptions } from './media-sender.js';
import { decodeMulaw } from '../audio/g711.js';
import { StreamSequence } from './sequence.js';

const streamSid = 'MZ' + 'a'.repeat(32);

async function run(audio: Int16Array, tailMs: number, trouble?: TroubleOptions) {
  const clock = new VirtualClock(1000);
  const sent: { at: number; msg: Record<string, any> }[] = [];
  const sequence = new StreamSequence();
  sequence.next(); // "1" went to `start`
  const stats = await sendMedia(
    {
      streamSid,
      audio,
      tailMs,
      sequence,
      clock,
      startMs: 1000,
      send: (t) => sent.push({ at: clock.now(), msg: JSON.parse(t) }),
      ...(trouble && { trouble }),
    },
    new AbortController().signal,
  );
  return { sent, stats };
}

/** A deterministic pseudo-random sequence. */
function lcg(seed = 1): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('sendMedia', () => {
  it('numbers messages like Twilio and paces them by absolute 20 ms deadlines', async () => {
    const audio = tone(440, 100, 8000); // 5 frames
    const { sent, stats } = await run(audio, 60); // + 3 silence frames
    expect(stats).toEqual({ framesSent: 8, framesLost: 0, dtmfSent: 0, completed: true });
    sent.forEach(({ at, msg }, n) => {
      expect(mediaMessage.parse(msg)).toBeTruthy();
      expect(msg.sequenceNumber).toBe(String(n + 2));
      expect(msg.media.chunk).toBe(String(n + 1));
      expect(msg.media.timestamp).toBe(String(n * 20));
      expect(msg.media.track).toBe('inbound');
      expect(at).toBe(1000 + (n + 1) * 20);
    });
    const payloads = sent.map(({ msg }) => Buffer.from(msg.media.payload as string, 'base64'));
    expect(payloads.every((p) => p.length === 160)).toBe(true);
    const decoded = decodeMulaw(payloads[0]!);
    expect(Math.abs(decoded[40]! - audio[40]!)).toBeLessThan(600);
    expect(payloads[7]!.every((b) => b === 0xff)).toBe(true);
  });

  it('pads a partial last frame with silence', async () => {
    const { sent } = await run(tone(440, 30, 8000), 0);
    expect(sent).toHaveLength(2);
    const last = Buffer.from(sent[1]!.msg.media.payload as string, 'base64');
    expect(last.length).toBe(160);
    expect(last.subarray(80).every((b) => b === 0xff)).toBe(true);
  });

  it('loss leaves timestamp gaps while sequenceNumber and chunk stay contiguous', async () => {
    const { sent, stats } = await run(new Int16Array(0), 2000, { lossPct: 30, random: lcg(7) });
    expect(stats.framesLost).toBeGreaterThan(10);
    expect(stats.framesSent + stats.framesLost).toBe(100);
    const ts = sent.map(({ msg }) => Number(msg.media.timestamp));
    expect(ts.some((t, i) => i > 0 && t - ts[i - 1]! > 20)).toBe(true);
    sent.forEach(({ msg }, i) => {
      expect(msg.media.chunk).toBe(String(i + 1));
      expect(msg.sequenceNumber).toBe(String(i + 2));
    });
  });

  it('jitter delays messages but never reorders them', async () => {
    const { sent } = await run(new Int16Array(0), 2000, { jitterMs: 80, random: lcg(3) });
    const times = sent.map((s) => s.at);
    expect(times.some((t, n) => t > 1000 + (n + 1) * 20)).toBe(true);
    times.forEach((t, n) => {
      expect(t).toBeGreaterThanOrEqual(1000 + (n + 1) * 20);
      expect(t).toBeLessThanOrEqual(1000 + (n + 1) * 20 + 80);
      if (n > 0) expect(t).toBeGreaterThanOrEqual(times[n - 1]!);
    });
  });

  it('a burst holds media, then sends it all at once', async () => {
    const { sent } = await run(new Int16Array(0), 2000, { bursts: { atMs: [500], holdMs: 500 } });
    const atRelease = sent.filter((s) => s.at === 1000 + 1000);
    expect(atRelease.length).toBeGreaterThanOrEqual(25);
    expect(sent.some((s) => s.at > 1500 && s.at < 2000)).toBe(false);
    expect(sent.map((s) => Number(s.msg.media.chunk))).toEqual(sent.map((_, i) => i + 1));
  });

  it('sends DTMF at its time, in sequence with media', async () => {
    const { sent, stats } = await run(new Int16Array(0), 200, {
      dtmf: [
        { digit: '1', atMs: 50 },
        { digit: '#', atMs: 110 },
      ],
    });
    expect(stats.dtmfSent).toBe(2);
    const dtmf = sent.filter((s) => s.msg.event === 'dtmf');
    expect(dtmf.map((d) => dtmfMessage.parse(d.msg).dtmf)).toEqual([
      { track: 'inbound_track', digit: '1' },
      { track: 'inbound_track', digit: '#' },
    ]);
    expect(dtmf.map((d) => d.at)).toEqual([1050, 1110]);
    expect(sent.map((s) => s.msg.sequenceNumber)).toEqual(sent.map((_, i) => String(i + 2)));
  });

  it('stops promptly when aborted and reports it did not complete', async () => {
    const ac = new AbortController();
    const clock = new VirtualClock(0);
    let count = 0;
    const stats = await sendMedia(
      {
        streamSid,
        audio: new Int16Array(0),
        tailMs: Infinity,
        sequence: new StreamSequence(),
        clock,
        startMs: 0,
        send: () => {
          if (++count === 10) ac.abort();
        },
      },
      ac.signal,
    );
    expect(stats).toMatchObject({ framesSent: 10, completed: false });
  });
});

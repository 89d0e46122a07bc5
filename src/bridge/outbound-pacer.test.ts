import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OutboundPacer } from './outbound-pacer.js';

const SID = 'MZ' + '0'.repeat(32);

function setup(leadMs = 100) {
  const sent: string[] = [];
  const pacer = new OutboundPacer({
    streamSid: SID,
    leadMs,
    send: (m) => sent.push(m),
    now: () => Date.now(),
    markEveryFrames: 10,
  });
  const media = () => sent.filter((m) => m.includes('"media"'));
  return { pacer, sent, media };
}

describe('OutboundPacer', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('sends well-formed Twilio media messages for the stream', () => {
    const { pacer, media } = setup();
    pacer.push('AAAA', false);
    expect(JSON.parse(media()[0]!)).toEqual({
      event: 'media',
      streamSid: SID,
      media: { payload: 'AAAA' },
    });
  });

  it('shrinks a queue that jitter built up in the next pause, never in speech', () => {
    const { pacer, media } = setup(100);
    // A 100 ms stall, then the late frames at once: Twilio now holds ~100 ms.
    for (let i = 0; i < 5; i++) pacer.push(`s${i}`, false);
    expect(pacer.twilioQueuedMs()).toBe(100);
    // The reply goes on in real time: every speech frame is sent, the lead stays.
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(20);
      pacer.push(`t${i}`, false);
    }
    expect(media()).toHaveLength(15);
    expect(pacer.twilioQueuedMs()).toBe(100);
    // A pause: silence is skipped until Twilio holds no more than 0.8 of the lead.
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(20);
      pacer.push(`q${i}`, true);
    }
    expect(pacer.twilioQueuedMs()).toBeLessThanOrEqual(80);
    expect(pacer.stats.skipped).toBeGreaterThanOrEqual(1);
    expect(media().length).toBe(25 - pacer.stats.skipped);
  });

  it('never feeds Twilio more than the lead ahead of real time', () => {
    const { pacer, media } = setup(100);
    for (let i = 0; i < 50; i++) pacer.push(`f${i}`, false); // a 1 s burst
    expect(media()).toHaveLength(5); // 100 ms worth
    vi.advanceTimersByTime(200);
    expect(media().length).toBeGreaterThanOrEqual(14);
    expect(media().length).toBeLessThanOrEqual(16);
    vi.advanceTimersByTime(1000);
    expect(media()).toHaveLength(50);
    expect(
      media().map((m) => (JSON.parse(m) as { media: { payload: string } }).media.payload),
    ).toEqual(Array.from({ length: 50 }, (_, i) => `f${i}`));
  });

  it('drops the oldest frames when its backlog is full, and counts them', () => {
    const sent: string[] = [];
    const pacer = new OutboundPacer({
      streamSid: SID,
      leadMs: 20,
      backlogMs: 100,
      send: (m) => sent.push(m),
      now: () => Date.now(),
    });
    for (let i = 0; i < 20; i++) pacer.push(`f${i}`, false);
    expect(pacer.stats.drops).toBe(14);
    pacer.close();
  });

  it('clear drops queued audio and tells Twilio', () => {
    const { pacer, sent } = setup(100);
    for (let i = 0; i < 20; i++) pacer.push(`f${i}`, false);
    expect(pacer.clear()).toBe(true);
    expect(JSON.parse(sent.at(-1)!)).toEqual({ event: 'clear', streamSid: SID });
    expect(pacer.backlogFrames).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(sent.filter((m) => m.includes('"media"'))).toHaveLength(5);
    expect(pacer.stats.clears).toBe(1);
  });

  it('does not send clear when nothing is queued', () => {
    const { pacer, sent } = setup();
    expect(pacer.clear()).toBe(false);
    expect(sent).toHaveLength(0);
  });

  it('marks every N frames and tracks what the caller heard from the echoes', () => {
    const { pacer, sent } = setup(1000);
    for (let i = 0; i < 25; i++) pacer.push('AAAA', false);
    const marks = sent
      .filter((m) => m.includes('"mark"'))
      .map((m) => (JSON.parse(m) as { mark: { name: string } }).mark.name);
    expect(marks).toEqual(['pb-10', 'pb-20']);
    expect(pacer.onMarkEcho('pb-10')).toBe(15 * 20);
    expect(pacer.stats.playedFrames).toBe(10);
    expect(pacer.onMarkEcho('not-ours')).toBeUndefined();
  });

  it('does not take the echoes of marks a clear dropped for playback', () => {
    const { pacer, sent } = setup(1000);
    for (let i = 0; i < 25; i++) pacer.push('AAAA', false);
    expect(pacer.onMarkEcho('pb-10')).toBe(15 * 20); // played before the barge-in
    expect(pacer.clear()).toBe(true);
    // Twilio answers a clear by returning every mark still in its buffer, unplayed.
    expect(pacer.onMarkEcho('pb-20')).toBeUndefined();
    expect(pacer.stats).toMatchObject({ playedFrames: 10, marksEchoed: 1, marksCleared: 1 });
    // Marks sent after the clear are timed again.
    for (let i = 0; i < 10; i++) pacer.push('AAAA', false);
    expect(sent.filter((m) => m.includes('"mark"')).at(-1)).toContain('pb-30');
    expect(pacer.onMarkEcho('pb-30')).toBe(5 * 20);
    expect(pacer.stats.playedFrames).toBe(30);
  });

  it('keeps its marks when there was nothing to clear', () => {
    const { pacer } = setup(1000);
    for (let i = 0; i < 10; i++) pacer.push('AAAA', false);
    vi.advanceTimersByTime(1000); // Twilio has played it all by our estimate
    expect(pacer.clear()).toBe(false);
    expect(pacer.onMarkEcho('pb-10')).toBe(0);
  });

  it('counts an underrun when agent speech stalls long enough for Twilio to run dry', () => {
    const { pacer } = setup();
    pacer.push('a', false);
    vi.advanceTimersByTime(20);
    pacer.push('b', false); // on time
    expect(pacer.stats.underruns).toBe(0);
    vi.advanceTimersByTime(100);
    pacer.push('c', false); // Twilio played out 80 ms before this arrived
    expect(pacer.stats.underruns).toBe(1);
    vi.advanceTimersByTime(100);
    pacer.push('d', true); // silence after a pause is not an underrun
    expect(pacer.stats.underruns).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { tone } from '../audio/analysis.js';
import { turnLatencies, underruns, utterances } from './timeline.js';

describe('timeline', () => {
  it('finds utterances, merging short pauses', () => {
    const s = new Int16Array(8000);
    s.set(tone(300, 200, 8000), 800); // 100-300 ms
    s.set(tone(300, 200, 8000), 3200); // 400-600 ms: 100 ms pause, merged
    s.set(tone(300, 100, 8000), 6400); // 800-900 ms: 200 ms pause
    expect(utterances(s, 150)).toEqual([
      { startMs: expect.closeTo(100, 0), endMs: 600 },
      { startMs: expect.closeTo(800, 0), endMs: 900 },
    ]);
  });

  it('measures turn latency from end of caller speech to first agent audio', () => {
    const caller = [
      { startMs: 0, endMs: 1000 },
      { startMs: 3000, endMs: 4000 },
      { startMs: 6000, endMs: 7000 },
    ];
    const agent = [
      { startMs: 1650, endMs: 2500 },
      { startMs: 3500, endMs: 4500 },
    ];
    expect(turnLatencies(caller, agent)).toEqual([
      { callerEndMs: 1000, latencyMs: 650, overlapped: false },
      { callerEndMs: 4000, latencyMs: null, overlapped: true },
      { callerEndMs: 7000, latencyMs: null, overlapped: false },
    ]);
  });

  it('counts dry playback inside an utterance as underruns, not pauses between utterances', () => {
    const full = 160;
    const frames = [0, 0, full, full, 0, full, 80, 0, full, ...Array(20).fill(0), full];
    expect(underruns(frames)).toEqual([
      { atMs: 80, gapMs: 20 },
      { atMs: 130, gapMs: 30 },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { burstOnsetsMs, burstTrain, detectOnsetsMs, roundTripDelaysMs } from './probe.js';

describe('burst probe', () => {
  it('recovers a known delay from a delayed copy of the burst train', () => {
    const plan = { durationMs: 5000 };
    const sent = burstTrain(plan);
    expect(burstOnsetsMs(plan)).toEqual([500, 1500, 2500, 3500, 4500]);
    const heard = new Int16Array(sent.length + 8000);
    heard.set(sent, 8 * 237); // 237 ms round trip
    const onsets = detectOnsetsMs(heard);
    expect(onsets).toHaveLength(5);
    const delays = roundTripDelaysMs(burstOnsetsMs(plan), onsets, 1000);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(237);
    for (const d of delays) expect(d).toBeLessThan(240);
  });
});

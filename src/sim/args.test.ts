import { describe, expect, it } from 'vitest';
import { parseDtmf, parseDurationMs, sourceFromFlags, troubleFromFlags } from './args.js';

describe('CLI argument helpers', () => {
  it('parses times and DTMF schedules', () => {
    expect(parseDurationMs('3s', 'x')).toBe(3000);
    expect(parseDurationMs('4.5', 'x')).toBe(4500);
    expect(parseDurationMs('250ms', 'x')).toBe(250);
    expect(() => parseDurationMs('soon', 'x')).toThrow(/expected a time/);
    expect(parseDtmf('1@3s,#@4.5s')).toEqual([
      { digit: '1', atMs: 3000 },
      { digit: '#', atMs: 4500 },
    ]);
    expect(() => parseDtmf('x@1s')).toThrow(/DIGIT@TIME/);
  });

  it('builds sources and trouble from flags', () => {
    expect(sourceFromFlags({ tone: '300' }, 2000)).toEqual({
      kind: 'tone',
      freqHz: 300,
      durationMs: 2000,
    });
    expect(sourceFromFlags({}, 2000)).toBeUndefined();
    expect(() => sourceFromFlags({ tone: '1', wav: 'a.wav' }, 1)).toThrow(/at most one/);
    expect(troubleFromFlags({ burst: true, loss: '5' }, 13_000)).toEqual({
      lossPct: 5,
      bursts: { atMs: [2000, 7000, 12000], holdMs: 500 },
    });
    expect(troubleFromFlags({}, 1000)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { encodeWav, parseWav } from './wav.js';

describe('wav', () => {
  it('round-trips PCM16 with rate and channels', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const back = parseWav(encodeWav({ sampleRateHz: 16000, channels: 2, samples }));
    expect(back.sampleRateHz).toBe(16000);
    expect(back.channels).toBe(2);
    expect([...back.samples]).toEqual([...samples]);
  });

  it('refuses what is not PCM16 WAV', () => {
    expect(() => parseWav(new TextEncoder().encode('hello world, not a wav'))).toThrow(/RIFF/);
    const wav = encodeWav({ sampleRateHz: 8000, channels: 1, samples: new Int16Array(4) });
    new DataView(wav.buffer).setUint16(34, 8, true);
    expect(() => parseWav(wav)).toThrow(/PCM16/);
  });
});

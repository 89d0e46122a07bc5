import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dominantFrequency, rmsDbfs, tone } from './analysis.js';
import { encodeWav, parseWav, readWavAs8kMono, toMonoPcm16, writeWavFile } from './wav.js';

/** A WAV with an arbitrary sample format, written by hand the way other tools do. */
function customWav(opts: {
  rate: number;
  channels: number;
  bits: number;
  float?: boolean;
  frames: Float32Array[];
}): Buffer {
  const { rate, channels, bits } = opts;
  const n = opts.frames[0]!.length;
  const bytes = bits / 8;
  const data = Buffer.alloc(n * channels * bytes);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < channels; c++) {
      const v = opts.frames[c]![i]!;
      const o = (i * channels + c) * bytes;
      if (opts.float) data.writeFloatLE(v, o);
      else if (bits === 24) data.writeIntLE(Math.round(v * 8388607), o, 3);
      else data.writeInt16LE(Math.round(v * 32767), o);
    }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(opts.float ? 3 : 1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * channels * bytes, 28);
  header.writeUInt16LE(channels * bytes, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

const sine = (hz: number, rate: number, seconds: number, amp = 0.5): Float32Array =>
  Float32Array.from(
    { length: Math.round(rate * seconds) },
    (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate),
  );

describe('wav', () => {
  it('round-trips 8 kHz mono PCM16 through a file exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pb-wav-'));
    try {
      const pcm = tone(440, 500, 8000);
      await writeWavFile(join(dir, 'a.wav'), pcm);
      const buf = await readFile(join(dir, 'a.wav'));
      expect(buf.length).toBe(44 + pcm.length * 2);
      expect(await readWavAs8kMono(join(dir, 'a.wav'))).toEqual(pcm);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('converts 44.1 kHz stereo 16-bit to 8 kHz mono, keeping pitch, length and level', () => {
    const wav = parseWav(
      customWav({
        rate: 44100,
        channels: 2,
        bits: 16,
        frames: [sine(440, 44100, 1), sine(440, 44100, 1)],
      }),
    );
    expect(wav).toMatchObject({ sampleRateHz: 44100, channels: 2 });
    const out = toMonoPcm16(wav);
    expect(out.length).toBe(8000);
    expect(dominantFrequency(out.subarray(400, 7600), 8000)).toBeCloseTo(440, 0);
    expect(rmsDbfs(out.subarray(400, 7600))).toBeCloseTo(rmsDbfs(tone(440, 1000, 8000)), 0);
  });

  it('filters what the new rate cannot carry (5 kHz at 16 kHz → 8 kHz is removed)', () => {
    const wav = parseWav(
      customWav({ rate: 16000, channels: 1, bits: 16, frames: [sine(5000, 16000, 0.5)] }),
    );
    expect(rmsDbfs(toMonoPcm16(wav).subarray(200, 3800))).toBeLessThan(-50);
  });

  it('reads 24-bit and float WAVs and averages channels', () => {
    const left = sine(1000, 48000, 0.25);
    const silent = new Float32Array(left.length);
    const w24 = toMonoPcm16(
      parseWav(customWav({ rate: 48000, channels: 2, bits: 24, frames: [left, silent] })),
    );
    const wf = toMonoPcm16(
      parseWav(
        customWav({ rate: 48000, channels: 2, bits: 32, float: true, frames: [left, silent] }),
      ),
    );
    expect(w24.length).toBe(2000);
    expect(dominantFrequency(w24.subarray(200, 1800), 8000)).toBeCloseTo(1000, 0);
    // Half the level: one silent channel averaged in is -6 dB.
    expect(rmsDbfs(wf.subarray(200, 1800))).toBeCloseTo(rmsDbfs(tone(1000, 200, 8000, 0.25)), 0);
  });

  it('encodes a canonical header and rejects what is not a WAV', () => {
    const buf = encodeWav(new Int16Array([1, -1, 32767]), 8000);
    expect(parseWav(buf)).toMatchObject({ sampleRateHz: 8000, channels: 1 });
    expect(() => parseWav(Buffer.from('hello world, not a wav'))).toThrow(/WAV/);
  });
});

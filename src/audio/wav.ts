import { readFile, writeFile } from 'node:fs/promises';
import { PbError } from '../errors.js';
import { resample } from './resample.js';

/** Decoded WAV audio: interleaved samples scaled to -1..1. */
export interface WavAudio {
  sampleRateHz: number;
  channels: number;
  /** Interleaved, `frames × channels` long, each sample in [-1, 1]. */
  samples: Float32Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function fail(message: string): never {
  throw new PbError('PB_ERR_WAV', `WAV: ${message}`);
}

/**
 * Parses a RIFF/WAVE file: integer PCM of 8/16/24/32 bits or 32/64-bit float, any rate,
 * any channel count, plain or WAVE_FORMAT_EXTENSIBLE. A data chunk whose declared size
 * overruns the file (streamed writers such as `espeak-ng --stdout` leave it unset) is
 * read to the end of the file.
 */
export function parseWav(buf: Buffer): WavAudio {
  if (
    buf.length < 12 ||
    buf.toString('ascii', 0, 4) !== 'RIFF' ||
    buf.toString('ascii', 8, 12) !== 'WAVE'
  )
    fail('not a RIFF/WAVE file');
  let format = 0;
  let channels = 0;
  let sampleRateHz = 0;
  let bits = 0;
  let data: Buffer | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const declared = buf.readUInt32LE(off + 4);
    const size = Math.min(declared, buf.length - off - 8);
    const body = buf.subarray(off + 8, off + 8 + size);
    if (id === 'fmt ') {
      if (size < 16) fail('fmt chunk too short');
      format = body.readUInt16LE(0);
      channels = body.readUInt16LE(2);
      sampleRateHz = body.readUInt32LE(4);
      bits = body.readUInt16LE(14);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 26) format = body.readUInt16LE(24);
    } else if (id === 'data') {
      data = body;
      if (declared > size) break;
    }
    off += 8 + size + (size & 1);
  }
  if (!format) fail('no fmt chunk');
  if (!data) fail('no data chunk');
  if (channels < 1 || sampleRateHz < 1)
    fail(`invalid format (${channels} channels at ${sampleRateHz} Hz)`);
  const bytes = bits / 8;
  const count = Math.floor(data.length / bytes);
  const samples = new Float32Array(count);
  if (format === WAVE_FORMAT_PCM) {
    for (let i = 0; i < count; i++) {
      const o = i * bytes;
      if (bits === 8) samples[i] = (data[o]! - 128) / 128;
      else if (bits === 16) samples[i] = data.readInt16LE(o) / 32768;
      else if (bits === 24) samples[i] = data.readIntLE(o, 3) / 8388608;
      else if (bits === 32) samples[i] = data.readInt32LE(o) / 2147483648;
      else fail(`unsupported PCM sample size ${bits} bits`);
    }
  } else if (format === WAVE_FORMAT_IEEE_FLOAT) {
    for (let i = 0; i < count; i++) {
      if (bits === 32) samples[i] = data.readFloatLE(i * 4);
      else if (bits === 64) samples[i] = data.readDoubleLE(i * 8);
      else fail(`unsupported float sample size ${bits} bits`);
    }
  } else fail(`unsupported format tag ${format} (only PCM and IEEE float)`);
  // Drop a trailing partial frame so the length is a whole number of frames.
  const whole = count - (count % channels);
  return { sampleRateHz, channels, samples: samples.subarray(0, whole) };
}

/** Encodes mono or interleaved PCM16 as a canonical 44-byte-header WAV file. */
export function encodeWav(samples: Int16Array, sampleRateHz: number, channels = 1): Buffer {
  const dataBytes = samples.length * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(sampleRateHz, 24);
  buf.writeUInt32LE(sampleRateHz * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(samples[i]!, 44 + i * 2);
  return buf;
}

function toPcm16(x: Float32Array): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.round(x[i]! * 32768);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Mixes any channel count down to mono (average) and resamples to `rateHz` as PCM16. */
export function toMonoPcm16(audio: WavAudio, rateHz = 8000): Int16Array {
  const { channels, samples } = audio;
  const frames = samples.length / channels;
  const mono = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[f * channels + c]!;
    mono[f] = sum / channels;
  }
  return toPcm16(resample(mono, audio.sampleRateHz, rateHz));
}

/** Reads a WAV file of any rate and channel count as 8 kHz mono PCM16. */
export async function readWavAs8kMono(path: string): Promise<Int16Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new PbError('PB_ERR_WAV', `cannot read WAV file ${path}`, { cause: err });
  }
  return toMonoPcm16(parseWav(buf), 8000);
}

/** Writes 8 kHz (or `sampleRateHz`) mono PCM16 to a WAV file. */
export async function writeWavFile(
  path: string,
  samples: Int16Array,
  sampleRateHz = 8000,
): Promise<void> {
  await writeFile(path, encodeWav(samples, sampleRateHz, 1));
}

import { readFileSync } from 'node:fs';
import { AudioFrame, AudioResampler } from '@livekit/rtc-node';
import { encodeMulawInto } from '../audio/g711.js';
import { encodeBase64 } from '../audio/base64.js';
import { parseWav } from '../audio/wav.js';

const PROMPT_DIR = new URL('../../assets/prompts/', import.meta.url);

/** A fixed prompt as ready-to-send Twilio payloads: base64 μ-law, 20 ms each. */
export interface Prompt {
  frames: string[];
  durationMs: number;
}

const cache = new Map<string, Prompt | null>();

/** Downmixes and (natively) resamples a WAV prompt to 8 kHz mono PCM16. */
export function toTelephoneRate(data: Uint8Array): Int16Array {
  const wav = parseWav(data);
  let mono = wav.samples;
  if (wav.channels > 1) {
    mono = new Int16Array(Math.floor(wav.samples.length / wav.channels));
    for (let i = 0; i < mono.length; i++) {
      let sum = 0;
      for (let c = 0; c < wav.channels; c++) sum += wav.samples[i * wav.channels + c]!;
      mono[i] = Math.round(sum / wav.channels);
    }
  }
  if (wav.sampleRateHz === 8000) return mono;
  const resampler = new AudioResampler(wav.sampleRateHz, 8000, 1);
  const out: Int16Array[] = [
    ...resampler.push(new AudioFrame(mono, wav.sampleRateHz, 1, mono.length)).map((f) => f.data),
    ...resampler.flush().map((f) => f.data),
  ];
  resampler.close();
  const total = out.reduce((n, c) => n + c.length, 0);
  const pcm = new Int16Array(total);
  let o = 0;
  for (const c of out) {
    pcm.set(c, o);
    o += c.length;
  }
  return pcm;
}

/**
 * Loads `assets/prompts/<name>.wav` once (rendered offline by scripts/render-prompts.sh).
 * Returns null when the file is missing, so a call still ends cleanly without it.
 */
export function loadPrompt(name: string): Prompt | null {
  if (cache.has(name)) return cache.get(name)!;
  let prompt: Prompt | null = null;
  try {
    const pcm = toTelephoneRate(readFileSync(new URL(`${name}.wav`, PROMPT_DIR)));
    const frames: string[] = [];
    const bytes = Buffer.alloc(160);
    for (let off = 0; off < pcm.length; off += 160) {
      const n = Math.min(160, pcm.length - off);
      bytes.fill(0xff); // μ-law silence pads the last frame
      encodeMulawInto(pcm, bytes, off, 0, n);
      frames.push(encodeBase64(bytes));
    }
    prompt = { frames, durationMs: frames.length * 20 };
  } catch {
    prompt = null;
  }
  cache.set(name, prompt);
  return prompt;
}

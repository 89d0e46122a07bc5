import { readFileSync } from 'node:fs';
import { encoderFor, silenceByte, type Codec } from '../audio/g711.js';
import { encodeBase64 } from '../audio/base64.js';
import { parseWav, toMonoPcm16 } from '../audio/wav.js';

const PROMPT_DIR = new URL('../../assets/prompts/', import.meta.url);

/** A fixed prompt as ready-to-send Twilio payloads: base64 G.711 in the stream's law, 20 ms each. */
export interface Prompt {
  frames: string[];
  durationMs: number;
}

const cache = new Map<string, Prompt | null>();

/**
 * Loads `assets/prompts/<name>.wav` once (rendered offline by scripts/render-prompts.sh)
 * as Twilio frames. Converted once per process and law, so the JavaScript resampler is
 * fine here (the live path never resamples). Returns null when the file is
 * missing, so a call still ends cleanly without it.
 */
export function loadPrompt(name: string, codec: Codec = 'mulaw'): Prompt | null {
  const key = `${name}/${codec}`;
  if (cache.has(key)) return cache.get(key)!;
  let prompt: Prompt | null = null;
  try {
    const pcm = toMonoPcm16(parseWav(readFileSync(new URL(`${name}.wav`, PROMPT_DIR))), 8000);
    const frames: string[] = [];
    const bytes = Buffer.alloc(160);
    const encode = encoderFor(codec);
    for (let off = 0; off < pcm.length; off += 160) {
      const n = Math.min(160, pcm.length - off);
      bytes.fill(silenceByte(codec)); // silence pads the last frame
      encode(pcm, bytes, off, 0, n);
      frames.push(encodeBase64(bytes));
    }
    prompt = { frames, durationMs: frames.length * 20 };
  } catch {
    prompt = null;
  }
  cache.set(key, prompt);
  return prompt;
}

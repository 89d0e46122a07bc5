import { readFileSync } from 'node:fs';
import { encodeMulawInto } from '../audio/g711.js';
import { encodeBase64 } from '../audio/base64.js';
import { parseWav, toMonoPcm16 } from '../audio/wav.js';

const PROMPT_DIR = new URL('../../assets/prompts/', import.meta.url);

/** A fixed prompt as ready-to-send Twilio payloads: base64 μ-law, 20 ms each. */
export interface Prompt {
  frames: string[];
  durationMs: number;
}

const cache = new Map<string, Prompt | null>();

/**
 * Loads `assets/prompts/<name>.wav` once (rendered offline by scripts/render-prompts.sh)
 * as Twilio frames. Converted once per process, so the JavaScript resampler is fine here;
 * the live audio path resamples natively in rtc-node. Returns null when the file is
 * missing, so a call still ends cleanly without it.
 */
export function loadPrompt(name: string): Prompt | null {
  if (cache.has(name)) return cache.get(name)!;
  let prompt: Prompt | null = null;
  try {
    const pcm = toMonoPcm16(parseWav(readFileSync(new URL(`${name}.wav`, PROMPT_DIR))), 8000);
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

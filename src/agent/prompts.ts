import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Pcm16, parseWav } from './wav.js';

/** The fixed phrases rendered offline by scripts/render-prompts.sh. */
export type PromptName = 'greeting' | 'apology' | 'still-there' | 'goodbye' | 'voicemail';

/** assets/prompts at the repository root: two levels up from both src/agent and dist/agent. */
export const PROMPTS_DIR = fileURLToPath(new URL('../../assets/prompts/', import.meta.url));

const cache = new Map<PromptName, Promise<Pcm16>>();

/** Loads (once per process) one prompt as PCM16. */
export function loadPrompt(name: PromptName, dir = PROMPTS_DIR): Promise<Pcm16> {
  let p = cache.get(name);
  if (!p) {
    p = readFile(`${dir}${name}.wav`).then((buf) => parseWav(buf, `${name}.wav`));
    // A failed read is not cached, so a fixed file is picked up by the next call.
    p.catch(() => cache.delete(name));
    cache.set(name, p);
  }
  return p;
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { concatPcm } from '../../src/audio/analysis.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/g711.js';
import { parseWav, toMonoPcm16 } from '../../src/audio/wav.js';
import {
  MAX_DISTANCE_DB,
  MIN_MARGIN_DB,
  closestRecording,
  shippedPrompts,
} from './prompt-match.js';
import { speechDistanceDb } from './speech-match.js';

const RATE = 8000;

/** The greeting as a starved phone path delivers it: μ-law at 8 kHz, with gaps and losses. */
function starvedGreeting(seed: number): Int16Array {
  const path = fileURLToPath(new URL('../../assets/prompts/greeting.wav', import.meta.url));
  const phone = decodeMulaw(encodeMulaw(toMonoPcm16(parseWav(readFileSync(path)), RATE)));
  let s = seed;
  const random = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const parts: Int16Array[] = [];
  for (let i = 0; i < phone.length;) {
    const len = 40 + Math.floor(random() * 200); // chunks not aligned with any window
    const chunk = phone.subarray(i, i + len);
    i += len;
    if (random() < 0.08) continue; // lost
    parts.push(chunk);
    if (random() < 0.08) parts.push(new Int16Array(Math.floor(random() * 800))); // a gap
  }
  return concatPcm(parts);
}

describe('speech distance', () => {
  const prompts = shippedPrompts();

  it('finds the greeting through gaps and losses, and tells it from every other prompt', () => {
    for (const seed of [1, 2, 3]) {
      const { best, distances } = closestRecording([starvedGreeting(seed)], RATE, prompts);
      expect(best).toBe('greeting');
      expect(distances.greeting).toBeLessThan(MAX_DISTANCE_DB);
      // The voicemail message opens with the same words; the others are further still.
      for (const [name, d] of Object.entries(distances)) {
        if (name !== 'greeting') expect(d - distances.greeting!).toBeGreaterThan(MIN_MARGIN_DB);
      }
    }
  });

  it('finds a recording inside longer speech, and nothing in silence', () => {
    const wav = (path: string) =>
      toMonoPcm16(parseWav(readFileSync(new URL(`../../${path}`, import.meta.url))), RATE);
    const other = wav('test/fixtures/fake-realtime/caller-hello.wav');
    const around = concatPcm([other, wav('assets/prompts/apology.wav'), other]);
    const { best, distances } = closestRecording([around], RATE, prompts);
    expect(best).toBe('apology');
    expect(distances.apology).toBeLessThan(MAX_DISTANCE_DB);
    for (const [name, d] of Object.entries(distances)) {
      if (name !== 'apology') expect(d - distances.apology!).toBeGreaterThan(MIN_MARGIN_DB);
    }
    expect(speechDistanceDb(new Int16Array(RATE * 2), RATE, prompts.apology!)).toBe(Infinity);
  });
});

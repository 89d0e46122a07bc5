import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { activeWindows } from '../../audio/analysis.js';
import { type Pcm16, parseWav } from '../wav.js';

/** A WAV from test/fixtures/fake-realtime (rendered by scripts/render-prompts.sh). */
export function fixtureWav(name: string): Pcm16 {
  const path = fileURLToPath(
    new URL(`../../../test/fixtures/fake-realtime/${name}`, import.meta.url),
  );
  return parseWav(readFileSync(path), name);
}

/** Milliseconds from the first to the last loud 20 ms window: how long the speech lasts. */
export function activeSpanMs(
  samples: Int16Array,
  sampleRateHz: number,
  thresholdDbfs = -40,
): number {
  const w = activeWindows(samples, sampleRateHz, 20, thresholdDbfs);
  const first = w.indexOf(true);
  if (first < 0) return 0;
  return (w.lastIndexOf(true) - first + 1) * 20;
}

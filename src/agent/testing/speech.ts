import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { activeWindows, goertzelPower } from '../../audio/analysis.js';
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

/** Relative power in 24 bands from 150 to 3750 Hz: a coarse spectral envelope. */
export function bandProfile(samples: Int16Array, sampleRateHz: number): number[] {
  const bands: number[] = [];
  for (let lo = 150; lo < 3750; lo += 150) {
    let p = 0;
    for (let f = lo; f < lo + 150; f += 25) p += goertzelPower(samples, sampleRateHz, f);
    bands.push(p);
  }
  const total = bands.reduce((a, b) => a + b, 0) || 1;
  return bands.map((b) => b / total);
}

/** Cosine similarity of two profiles: 1 for the same spectral shape. */
export function similarity(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  });
  return dot / Math.sqrt(na * nb || 1);
}

import type { Pcm16 } from '../../src/agent/wav.js';

/**
 * Is this heard audio that recording? Each loud 20 ms window becomes its spectral shape
 * (log energy in 16 bands of the phone band, less their mean, so loudness does not count);
 * the two sequences of shapes are lined up by dynamic time warping, which absorbs what a
 * starved pipeline does to time (gaps, dropped or stretched frames), and the answer is the
 * mean distance in dB along the best alignment. The same prompt through the phone path
 * scores a few dB; another sentence of the same synthetic voice scores far more, because
 * the order of its sounds differs. A whole-recording spectrum or loudness envelope cannot
 * tell those apart once time is warped (measured: docs/decisions.md, "Telling prompts apart").
 */

const WINDOW_MS = 20;
const BANDS = 16;
const LOW_HZ = 200;
const HIGH_HZ = 3600;
const STEP_HZ = 50; // bins of a 20 ms Hann window are ±100 Hz wide: finer steps add cost, not detail
/** Windows quieter than the loudest by more than this, or than -55 dBFS, are not speech. */
const RANGE_DB = 35;
const FLOOR_DBFS = -55;

/** Band edges, spaced evenly in log frequency as hearing roughly is. */
const EDGES = Array.from(
  { length: BANDS + 1 },
  (_, k) => LOW_HZ * (HIGH_HZ / LOW_HZ) ** (k / BANDS),
);

function bandPowers(x: Float64Array, rateHz: number): number[] {
  const bands: number[] = [];
  for (let b = 0; b < BANDS; b++) {
    let p = 0;
    for (let f = EDGES[b]!; f < EDGES[b + 1]!; f += STEP_HZ) {
      const c = 2 * Math.cos((2 * Math.PI * f) / rateHz);
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < x.length; i++) {
        const s0 = x[i]! + c * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      p += s1 * s1 + s2 * s2 - c * s1 * s2;
    }
    bands.push(10 * Math.log10(p + 1e-12));
  }
  return bands;
}

/** The spectral shape of each loud 20 ms window, in order. */
export function spectralFrames(samples: Int16Array, rateHz: number): number[][] {
  const n = Math.round((rateHz * WINDOW_MS) / 1000);
  const hann = Float64Array.from(
    { length: n },
    (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)),
  );
  const windows: { db: number; shape: number[] }[] = [];
  const x = new Float64Array(n);
  for (let off = 0; off + n <= samples.length; off += n) {
    let energy = 0;
    for (let i = 0; i < n; i++) {
      x[i] = (samples[off + i]! / 32768) * hann[i]!;
      energy += x[i]! * x[i]!;
    }
    const bands = bandPowers(x, rateHz);
    const mean = bands.reduce((a, b) => a + b, 0) / BANDS;
    windows.push({ db: 10 * Math.log10(energy / n + 1e-12), shape: bands.map((b) => b - mean) });
  }
  const loudest = Math.max(...windows.map((w) => w.db));
  return windows.filter((w) => w.db > loudest - RANGE_DB && w.db > FLOOR_DBFS).map((w) => w.shape);
}

function distance(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < BANDS; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum / BANDS);
}

/**
 * Mean distance (dB) of `ref`'s frames aligned in order to a stretch of `heard`'s (which
 * may hold more than the recording: it is found wherever it lies). Infinity when either
 * has no speech.
 */
function alignedDistanceDb(ref: number[][], heard: number[][]): number {
  const m = heard.length;
  if (ref.length === 0 || m === 0) return Infinity;
  // Row i: the cost and path length of the best alignment of ref[0..i] ending at heard[j].
  // Row -1 is free everywhere: the recording may start anywhere in what was heard.
  let cost = new Float64Array(m + 1);
  let steps = new Float64Array(m + 1);
  for (const r of ref) {
    const c = new Float64Array(m + 1).fill(Infinity);
    const s = new Float64Array(m + 1);
    for (let j = 1; j <= m; j++) {
      const d = distance(r, heard[j - 1]!);
      // Diagonal steps count twice, so a path's weight is its length in both sequences.
      let best = cost[j - 1]! + 2 * d;
      let len = steps[j - 1]! + 2;
      if (cost[j]! + d < best) [best, len] = [cost[j]! + d, steps[j]! + 1];
      if (c[j - 1]! + d < best) [best, len] = [c[j - 1]! + d, s[j - 1]! + 1];
      c[j] = best;
      s[j] = len;
    }
    cost = c;
    steps = s;
  }
  let best = Infinity;
  for (let j = 1; j <= m; j++) best = Math.min(best, cost[j]! / steps[j]!);
  return best;
}

/** How far `heard` is from being `ref` (dB; lower is closer). */
export function speechDistanceDb(heard: Int16Array, heardRateHz: number, ref: Pcm16): number {
  return alignedDistanceDb(
    spectralFrames(ref.samples, ref.sampleRateHz),
    spectralFrames(heard, heardRateHz),
  );
}

import { rmsDbfs, tone } from '../audio/analysis.js';

/**
 * Round-trip probe for loopback load tests: the caller sends tone bursts on a known
 * schedule, the loopback agent mirrors them, and each burst's onset in what the caller
 * heard, minus its onset in what was sent, is one round-trip delay. Both times are on the
 * stream clock (ms since the stream started).
 */
export interface BurstPlan {
  durationMs: number;
  /** Time between burst onsets; also the largest round trip that can be told apart. */
  periodMs?: number;
  burstMs?: number;
  freqHz?: number;
  firstAtMs?: number;
}

function plan(p: BurstPlan): Required<BurstPlan> {
  return { periodMs: 1000, burstMs: 200, freqHz: 1000, firstAtMs: 500, ...p };
}

/** Onsets (ms) of every burst that fits in the plan's duration. */
export function burstOnsetsMs(p: BurstPlan): number[] {
  const q = plan(p);
  const out: number[] = [];
  for (let t = q.firstAtMs; t + q.burstMs <= q.durationMs; t += q.periodMs) out.push(t);
  return out;
}

/** The burst train as 8 kHz PCM16: silence with a tone burst at each onset. */
export function burstTrain(p: BurstPlan): Int16Array {
  const q = plan(p);
  const out = new Int16Array(Math.round((q.durationMs * 8000) / 1000));
  const burst = tone(q.freqHz, q.burstMs, 8000, 0.5);
  for (const t of burstOnsetsMs(q)) out.set(burst, Math.round((t * 8000) / 1000));
  return out;
}

/**
 * Onsets (ms) of sounds in `samples`: a 5 ms window louder than `thresholdDbfs` after at
 * least `minQuietMs` of quieter windows, refined to the first sample above the threshold.
 */
export function detectOnsetsMs(
  samples: Int16Array,
  opts: { sampleRateHz?: number; thresholdDbfs?: number; minQuietMs?: number } = {},
): number[] {
  const rate = opts.sampleRateHz ?? 8000;
  const threshold = opts.thresholdDbfs ?? -30;
  const win = Math.round(rate / 200);
  const minQuietWindows = Math.ceil((opts.minQuietMs ?? 100) / 5);
  const level = Math.pow(10, threshold / 20) * 32768;
  const out: number[] = [];
  let quiet = minQuietWindows;
  for (let i = 0; i + win <= samples.length; i += win) {
    const loud = rmsDbfs(samples.subarray(i, i + win)) > threshold;
    if (loud && quiet >= minQuietWindows) {
      let first = i;
      for (let j = Math.max(0, i - win); j < i + win; j++) {
        if (Math.abs(samples[j]!) >= level) {
          first = j;
          break;
        }
      }
      out.push((first * 1000) / rate);
    }
    quiet = loud ? 0 : quiet + 1;
  }
  return out;
}

/**
 * Pairs each heard onset with the latest sent onset before it (within one period) and
 * returns the delays; a sent burst is counted once, by its first echo.
 */
export function roundTripDelaysMs(sentMs: number[], heardMs: number[], periodMs: number): number[] {
  const used = new Set<number>();
  const out: number[] = [];
  for (const h of heardMs) {
    let best: number | undefined;
    for (const s of sentMs) if (s <= h && h - s < periodMs) best = s;
    if (best === undefined || used.has(best)) continue;
    used.add(best);
    out.push(h - best);
  }
  return out;
}

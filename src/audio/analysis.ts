/**
 * Small signal measurements used by tests, the simulator's report and the load
 * generator: level, dominant frequency, gaps. Not on the real-time path.
 */

/** Root-mean-square level of PCM16 samples, in dBFS (full-scale sine ≈ -3 dBFS). */
export function rmsDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]! / 32768;
    sum += s * s;
  }
  return 10 * Math.log10(sum / samples.length);
}

/** Power of one frequency by the Goertzel algorithm (cheap single-bin DFT). */
export function goertzelPower(samples: Int16Array, sampleRateHz: number, freqHz: number): number {
  const w = (2 * Math.PI * freqHz) / sampleRateHz;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! / 32768 + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.length * samples.length);
}

/**
 * Dominant frequency between minHz and maxHz: a coarse Goertzel scan, then a fine
 * one around the peak. Good to a few Hz on a second of audio.
 */
export function dominantFrequency(
  samples: Int16Array,
  sampleRateHz: number,
  minHz = 50,
  maxHz = sampleRateHz / 2 - 50,
): number {
  const scan = (from: number, to: number, step: number): number => {
    let best = from;
    let bestPower = -1;
    for (let f = from; f <= to; f += step) {
      const p = goertzelPower(samples, sampleRateHz, f);
      if (p > bestPower) {
        bestPower = p;
        best = f;
      }
    }
    return best;
  };
  const coarse = scan(minHz, maxHz, 10);
  return scan(Math.max(minHz, coarse - 10), Math.min(maxHz, coarse + 10), 0.5);
}

/** A sine tone as PCM16. */
export function tone(
  freqHz: number,
  durationMs: number,
  sampleRateHz: number,
  amplitude = 0.5,
): Int16Array {
  const n = Math.round((durationMs * sampleRateHz) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(Math.sin((2 * Math.PI * freqHz * i) / sampleRateHz) * amplitude * 32767);
  return out;
}

/**
 * Longest run of near-silence (every sample's magnitude under `threshold`) in ms.
 * A tone with a dropout shows up as a gap much longer than one sample period.
 */
export function longestGapMs(samples: Int16Array, sampleRateHz: number, threshold = 200): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]!) < threshold) {
      run++;
      if (run > longest) longest = run;
    } else run = 0;
  }
  return (longest * 1000) / sampleRateHz;
}

/** Splits audio into windows and reports which windows are loud: a coarse energy envelope. */
export function activeWindows(
  samples: Int16Array,
  sampleRateHz: number,
  windowMs = 20,
  thresholdDbfs = -40,
): boolean[] {
  const win = Math.round((sampleRateHz * windowMs) / 1000);
  const out: boolean[] = [];
  for (let i = 0; i + win <= samples.length; i += win)
    out.push(rmsDbfs(samples.subarray(i, i + win)) > thresholdDbfs);
  return out;
}

/** Concatenates PCM16 chunks. */
export function concatPcm(chunks: Int16Array[]): Int16Array {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Int16Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

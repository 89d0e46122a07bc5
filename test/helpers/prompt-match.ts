import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ReceivedFrame } from '../../src/agent/testing/fake-caller.js';
import { parseWav, type Pcm16 } from '../../src/agent/wav.js';

const WINDOW_MS = 20;
const FLOOR_DB = -60;

/** A WAV of the repository (`assets/prompts/apology.wav`, a test fixture, …) as PCM16. */
export function repoWav(path: string): Pcm16 {
  const file = fileURLToPath(new URL(`../../${path}`, import.meta.url));
  return parseWav(readFileSync(file), path);
}

/** Loudness in dB of each 20 ms window: the shape of speech, whatever its sample rate. */
function envelope(samples: Int16Array, rateHz: number): number[] {
  const n = Math.round((rateHz * WINDOW_MS) / 1000);
  const out: number[] = [];
  for (let off = 0; off + n <= samples.length; off += n) {
    let sum = 0;
    for (let i = off; i < off + n; i++) sum += samples[i]! * samples[i]!;
    const rms = Math.sqrt(sum / n) / 32768;
    out.push(Math.max(FLOOR_DB, 20 * Math.log10(rms || 1e-9)));
  }
  return out;
}

function pearson(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  if (n < 2) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa && bb ? ab / Math.sqrt(aa * bb) : 0;
}

/** Overlaps shorter than this are too little to tell one prompt from another. */
const MIN_OVERLAP_MS = 1500;

/**
 * How well `heard` and `ref` line up: the best correlation of their loudness envelopes
 * over every relative offset that overlaps them by at least 1.5 s (less only when one is
 * shorter). The caller may have missed a prompt's first moments (its track was still
 * being subscribed to) or its last (the room was deleted), so neither end is assumed.
 * Loudness over time survives codecs and resampling, where the spectrum of one synthetic
 * voice looks much like another's.
 */
export function envelopeMatch(heard: Int16Array, heardRateHz: number, ref: Pcm16): number {
  const h = envelope(heard, heardRateHz);
  const r = envelope(ref.samples, ref.sampleRateHz);
  const minOverlap = Math.min(MIN_OVERLAP_MS / WINDOW_MS, h.length, r.length);
  if (minOverlap < 25) return 0;
  let best = 0;
  // `lag` is where ref's first window falls in heard (negative: heard starts inside ref).
  for (let lag = -(r.length - minOverlap); lag <= h.length - minOverlap; lag++) {
    const from = Math.max(0, lag);
    const to = Math.min(h.length, lag + r.length);
    if (to - from < minOverlap) continue;
    best = Math.max(best, pearson(h.slice(from, to), r.slice(from - lag, to - lag)));
  }
  return best;
}

/**
 * Which of `candidates` the caller heard, judged per agent track (an agent can play a
 * prompt on a track of its own beside its silent main one): the best envelope match.
 */
export function whichPrompt(
  frames: ReceivedFrame[],
  rateHz: number,
  candidates: Record<string, Pcm16>,
): { best: string | undefined; scores: Record<string, number> } {
  const tracks = new Map<string, Int16Array[]>();
  for (const f of frames) tracks.set(f.trackSid, [...(tracks.get(f.trackSid) ?? []), f.samples]);
  const scores: Record<string, number> = {};
  for (const [name, ref] of Object.entries(candidates)) {
    scores[name] = 0;
    for (const parts of tracks.values()) {
      const heard = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        heard.set(p, o);
        o += p.length;
      }
      scores[name] = Math.max(scores[name], envelopeMatch(heard, rateHz, ref));
    }
  }
  const ranked = Object.entries(scores).sort((a, b) => b[1] - a[1]);
  return { best: ranked[0]?.[0], scores };
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { concatPcm } from '../../src/audio/analysis.js';
import type { ReceivedFrame } from '../../src/agent/testing/fake-caller.js';
import { parseWav, type Pcm16 } from '../../src/agent/wav.js';
import { speechDistanceDb } from './speech-match.js';

const WINDOW_MS = 20;
const FLOOR_DB = -60;

/**
 * Measured through the whole call path (speech-match.ts): the right recording 2.6-4.7 dB,
 * also with gaps and dropped frames (most of it μ-law noise and where the 20 ms windows
 * fall); the nearest wrong one (the voicemail message for the greeting: both open with
 * "Hello, this is the phonebridge … line") 6.7 dB or more, depending on that alignment.
 */
export const MAX_DISTANCE_DB = 6;
export const MIN_MARGIN_DB = 1.5;

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

/** The distance (dB) of `heard` from each candidate recording, and the closest. */
export function closestRecording(
  tracks: Int16Array[],
  rateHz: number,
  candidates: Record<string, Pcm16>,
): { best: string | undefined; distances: Record<string, number> } {
  const distances: Record<string, number> = {};
  for (const [name, ref] of Object.entries(candidates)) {
    distances[name] = Math.min(...tracks.map((t) => speechDistanceDb(t, rateHz, ref)));
  }
  const ranked = Object.entries(distances).sort((a, b) => a[1] - b[1]);
  return { best: ranked[0]?.[0], distances };
}

/**
 * Asserts by content that the heard audio (one recording per agent track: an agent can
 * play a prompt on a track of its own beside its silent main one) is `name` among
 * `candidates`: closest to it, within MAX_DISTANCE_DB, and clearly closer than to any other.
 */
export function expectRecording(
  tracks: Int16Array[],
  rateHz: number,
  name: string,
  candidates: Record<string, Pcm16>,
): void {
  const { best, distances } = closestRecording(tracks, rateHz, candidates);
  const why = `distance per recording (dB): ${JSON.stringify(distances, (_k, v: unknown) => (typeof v === 'number' ? (Number.isFinite(v) ? Number(v.toFixed(2)) : String(v)) : v))}`;
  console.log(`heard ${name}? ${why}`);
  expect(best, why).toBe(name);
  expect(distances[name], why).toBeLessThan(MAX_DISTANCE_DB);
  for (const [other, d] of Object.entries(distances)) {
    if (other !== name) expect(d - distances[name]!, why).toBeGreaterThan(MIN_MARGIN_DB);
  }
}

/**
 * Asserts that heard speech is about as long as what was sent: not cut, not played twice.
 * A starved machine warps time both ways, so the bounds are not symmetric. Silence
 * inserted when a capture or a receiver runs late stretches it (1340 and 1460 ms of 1120
 * seen under load), so up to half again passes; a WebRTC receiver that then plays its
 * backlog faster shortens it (1000 ms of 1120 seen, the words all there by content), so
 * up to 15 % less passes. What the audio is, expectRecording says.
 */
export function expectWholeSpeech(heardMs: number, sentMs: number): void {
  const why = `heard ${heardMs} ms of speech, sent ${sentMs} ms`;
  expect(heardMs, why).toBeGreaterThanOrEqual(sentMs * 0.85);
  expect(heardMs, why).toBeLessThan(sentMs * 1.5);
}

/** The caller's frames since `sinceMs`, one recording per track they came on. */
export function perTrack(frames: ReceivedFrame[], sinceMs = 0): Int16Array[] {
  const tracks = new Map<string, Int16Array[]>();
  for (const f of frames) {
    if (f.atMs >= sinceMs) tracks.set(f.trackSid, [...(tracks.get(f.trackSid) ?? []), f.samples]);
  }
  return [...tracks.values()].map(concatPcm);
}

/** Every prompt the product ships (assets/prompts), by name. */
export function shippedPrompts(): Record<string, Pcm16> {
  const names = ['greeting', 'voicemail', 'apology', 'goodbye', 'still-there'];
  return Object.fromEntries(names.map((n) => [n, repoWav(`assets/prompts/${n}.wav`)]));
}

/**
 * Deterministic, speech-like inputs. A pool of different frames (not one frame repeated)
 * keeps branchy baselines honest: a single repeated frame would let the branch predictor
 * memorise it.
 */
import { encodeMulaw } from '../src/audio/g711.js';

export const FRAME_SAMPLES = 160;
export const POOL = 64; // power of two: `i & (POOL - 1)` picks the next input

/** mulberry32: a tiny seeded PRNG so every run measures the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` frames of PCM16: two formant-ish tones under a slow envelope, plus noise. */
export function pcmFrames(count: number, samplesPerFrame = FRAME_SAMPLES): Int16Array[] {
  const rnd = prng(42);
  const frames: Int16Array[] = [];
  let t = 0;
  for (let f = 0; f < count; f++) {
    const frame = new Int16Array(samplesPerFrame);
    for (let i = 0; i < samplesPerFrame; i++, t++) {
      const env = 0.15 + 0.85 * Math.abs(Math.sin(t / 1800));
      const v =
        env * (9000 * Math.sin(t * 0.0942) + 5000 * Math.sin(t * 0.377)) + (rnd() - 0.5) * 1500;
      frame[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
    }
    frames.push(frame);
  }
  return frames;
}

/** The same frames as G.711 μ-law bytes. */
export function mulawFrames(pcm: Int16Array[]): Uint8Array[] {
  return pcm.map((f) => encodeMulaw(f));
}

export const STREAM_SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';

/** Twilio `media` messages exactly as they arrive on the WebSocket, one per frame. */
export function twilioMediaMessages(mulaw: Uint8Array[]): string[] {
  return mulaw.map((bytes, i) =>
    JSON.stringify({
      event: 'media',
      sequenceNumber: String(i + 3),
      media: {
        track: 'inbound',
        chunk: String(i + 2),
        timestamp: String(i * 20 + 5),
        payload: Buffer.from(bytes).toString('base64'),
      },
      streamSid: STREAM_SID,
    }),
  );
}

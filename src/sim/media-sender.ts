import type { Clock } from './clock.js';
import { encodeMulaw } from '../audio/g711.js';
import type { StreamSequence } from './sequence.js';

/** 20 ms of 8 kHz audio: what Twilio puts in one media message. */
export const FRAME_SAMPLES = 160;
export const FRAME_MS = 20;

/** Network trouble to inject on the inbound (caller → server) direction. */
export interface TroubleOptions {
  /** Each message is sent up to this many ms late (uniform); order is kept, as TCP would. */
  jitterMs?: number;
  /**
   * Percentage of media frames lost before Twilio (RTP loss): they never become messages,
   * so `timestamp` leaves a gap while `sequenceNumber` and `chunk` stay contiguous.
   */
  lossPct?: number;
  /** Stalls: from each `atMs` (stream time) media is held for `holdMs`, then sent at once. */
  bursts?: { atMs: number[]; holdMs: number };
  /** DTMF key presses at stream times. */
  dtmf?: { digit: string; atMs: number }[];
  /** Random source in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

export interface MediaSenderOptions {
  streamSid: string;
  /** The caller's audio, 8 kHz mono PCM16. */
  audio: Int16Array;
  /** Silence frames sent after the audio (a real line never goes quiet); Infinity = until aborted. */
  tailMs: number;
  sequence: StreamSequence;
  /** Sends one JSON text message. */
  send: (text: string) => void;
  clock: Clock;
  /** The stream start instant on `clock`; frame n carries audio from n × 20 ms after it. */
  startMs: number;
  trouble?: TroubleOptions;
}

export interface MediaSenderStats {
  framesSent: number;
  framesLost: number;
  dtmfSent: number;
  /** True when every frame of audio and tail was sent; false when aborted first. */
  completed: boolean;
}

/**
 * Sends the caller's audio as Twilio does: one `media` message per 20 ms frame, paced by
 * absolute deadlines (start + (n+1) × 20 ms: a frame leaves once its 20 ms have been
 * captured), with the requested trouble injected. Resolves with counts when done or aborted.
 */
export async function sendMedia(
  opts: MediaSenderOptions,
  signal: AbortSignal,
): Promise<MediaSenderStats> {
  const { clock, startMs, audio, streamSid, sequence } = opts;
  const trouble = opts.trouble ?? {};
  const random = trouble.random ?? Math.random;
  const audioFrames = Math.ceil(audio.length / FRAME_SAMPLES);
  const totalFrames = audioFrames + Math.ceil(opts.tailMs / FRAME_MS);
  const dtmf = [...(trouble.dtmf ?? [])].sort((a, b) => a.atMs - b.atMs);
  const stats: MediaSenderStats = { framesSent: 0, framesLost: 0, dtmfSent: 0, completed: false };
  let chunk = 0;
  let lastSendMs = startMs;
  const silence = new Uint8Array(FRAME_SAMPLES).fill(0xff);

  const jittered = (t: number): number => {
    let at = t + (trouble.jitterMs ? random() * trouble.jitterMs : 0);
    for (const b of trouble.bursts?.atMs ?? []) {
      if (t >= startMs + b && t < startMs + b + (trouble.bursts?.holdMs ?? 0))
        at = Math.max(at, startMs + b + (trouble.bursts?.holdMs ?? 0));
    }
    lastSendMs = Math.max(lastSendMs, at);
    return lastSendMs;
  };

  try {
    for (let n = 0; n < totalFrames; n++) {
      const nominal = startMs + (n + 1) * FRAME_MS;
      while (dtmf.length && startMs + dtmf[0]!.atMs <= nominal) {
        const press = dtmf.shift()!;
        await clock.sleepUntil(jittered(startMs + press.atMs), signal);
        opts.send(
          JSON.stringify({
            event: 'dtmf',
            streamSid,
            sequenceNumber: sequence.next(),
            dtmf: { track: 'inbound_track', digit: press.digit },
          }),
        );
        stats.dtmfSent++;
      }
      if (trouble.lossPct && random() * 100 < trouble.lossPct) {
        stats.framesLost++;
        continue;
      }
      const at = jittered(nominal);
      await clock.sleepUntil(at, signal);
      const pcm =
        n < audioFrames ? audio.subarray(n * FRAME_SAMPLES, (n + 1) * FRAME_SAMPLES) : undefined;
      let payload: Uint8Array = silence;
      if (pcm) {
        payload = encodeMulaw(pcm);
        if (payload.length < FRAME_SAMPLES) {
          const padded = new Uint8Array(FRAME_SAMPLES).fill(0xff);
          padded.set(payload);
          payload = padded;
        }
      }
      chunk++;
      opts.send(
        JSON.stringify({
          event: 'media',
          sequenceNumber: sequence.next(),
          streamSid,
          media: {
            track: 'inbound',
            chunk: String(chunk),
            timestamp: String(n * FRAME_MS),
            payload: Buffer.from(payload).toString('base64'),
          },
        }),
      );
      stats.framesSent++;
    }
    stats.completed = true;
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  return stats;
}

import type { Clock } from './clock.js';
import { FRAME_MS, FRAME_SAMPLES } from './media-sender.js';

type QueueItem =
  { kind: 'audio'; samples: Int16Array; offset: number } | { kind: 'mark'; name: string };

/** Why a mark came back: playback reached it, or a `clear` flushed it. */
export type MarkEcho = { name: string; reason: 'played' | 'cleared' };

export interface PlaybackStats {
  marksReceived: number;
  marksPlayed: number;
  marksCleared: number;
  clears: number;
  /** Samples dropped by `clear`. */
  samplesCleared: number;
  framesPlayed: number;
}

/**
 * Twilio's outbound side: received media is queued and a playback clock consumes 8000
 * samples/s from it (one 20 ms frame per tick), playing silence when the queue is dry.
 * A mark comes back once the audio queued before it has finished playing (echoed at the
 * tick after the frame that played its last sample); a mark with nothing ahead of it
 * and nothing playing comes back at once. `clear` drops the queued audio and returns all
 * pending marks immediately. The class has no clock of its own: `tick()` is one frame.
 */
export class Playback {
  readonly #queue: QueueItem[] = [];
  /** Marks whose audio was played during the last tick: echoed when that frame ends. */
  #reached: string[] = [];
  #queuedSamples = 0;
  #lastTickSupplied = 0;
  readonly #heard: Int16Array[] = [];
  readonly #supplied: number[] = [];
  readonly #onMark: (echo: MarkEcho) => void;
  readonly stats: PlaybackStats = {
    marksReceived: 0,
    marksPlayed: 0,
    marksCleared: 0,
    clears: 0,
    samplesCleared: 0,
    framesPlayed: 0,
  };

  constructor(onMark: (echo: MarkEcho) => void) {
    this.#onMark = onMark;
  }

  /** Queues received agent audio (8 kHz PCM16). */
  enqueueAudio(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.#queue.push({ kind: 'audio', samples, offset: 0 });
    this.#queuedSamples += samples.length;
  }

  /** Queues a mark behind the audio already queued. */
  enqueueMark(name: string): void {
    this.stats.marksReceived++;
    if (this.#queue.length > 0) this.#queue.push({ kind: 'mark', name });
    else if (this.#lastTickSupplied > 0) this.#reached.push(name);
    else this.#echo(name, 'played');
  }

  /** Barge-in: drops queued audio; every pending mark comes back now, in order. */
  clear(): void {
    this.stats.clears++;
    const pending = [...this.#reached];
    for (const item of this.#queue) {
      if (item.kind === 'mark') pending.push(item.name);
      else this.stats.samplesCleared += item.samples.length - item.offset;
    }
    this.#queue.length = 0;
    this.#reached = [];
    this.#queuedSamples = 0;
    for (const name of pending) this.#echo(name, 'cleared');
  }

  /** Plays one 20 ms frame: returns the samples heard (silence-padded when the queue ran dry). */
  tick(): Int16Array {
    const reached = this.#reached;
    this.#reached = [];
    for (const name of reached) this.#echo(name, 'played');

    const frame = new Int16Array(FRAME_SAMPLES);
    let filled = 0;
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.kind === 'mark') {
        // Reached once all audio before it has been taken; heard by the end of this frame.
        this.#reached.push(head.name);
        this.#queue.shift();
        continue;
      }
      if (filled === FRAME_SAMPLES) break;
      const take = Math.min(FRAME_SAMPLES - filled, head.samples.length - head.offset);
      frame.set(head.samples.subarray(head.offset, head.offset + take), filled);
      filled += take;
      head.offset += take;
      this.#queuedSamples -= take;
      if (head.offset === head.samples.length) this.#queue.shift();
    }
    this.#lastTickSupplied = filled;
    this.#heard.push(frame);
    this.#supplied.push(filled);
    this.stats.framesPlayed++;
    return frame;
  }

  /** Samples waiting to be played. */
  get queuedSamples(): number {
    return this.#queuedSamples;
  }

  /** Everything the caller heard so far, one sample per 1/8000 s of the playback clock. */
  heard(): Int16Array {
    const out = new Int16Array(this.#heard.length * FRAME_SAMPLES);
    this.#heard.forEach((f, i) => out.set(f, i * FRAME_SAMPLES));
    return out;
  }

  /** Per frame, how many samples came from the queue (the rest was dry-queue silence). */
  supplied(): readonly number[] {
    return this.#supplied;
  }

  #echo(name: string, reason: MarkEcho['reason']): void {
    if (reason === 'played') this.stats.marksPlayed++;
    else this.stats.marksCleared++;
    this.#onMark({ name, reason });
  }
}

/**
 * The playback clock ticks half a frame out of phase with the inbound media deadlines:
 * a server that answers each caller frame at once (a loopback agent) then never races
 * the tick that should play its answer. Heard sample i sounds at PHASE + i/8 ms.
 */
export const PLAYBACK_PHASE_MS = 10;

/**
 * Drives a Playback on a drift-free clock: frame k plays at start + PLAYBACK_PHASE_MS +
 * k × 20 ms until the signal aborts. Resolves (never rejects) on abort.
 */
export async function runPlaybackClock(
  playback: Playback,
  clock: Clock,
  startMs: number,
  signal: AbortSignal,
): Promise<void> {
  try {
    for (let k = 0; ; k++) {
      await clock.sleepUntil(startMs + PLAYBACK_PHASE_MS + k * FRAME_MS, signal);
      playback.tick();
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

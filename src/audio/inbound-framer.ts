/**
 * Re-chunks Twilio inbound media (G.711 payloads of any size, possibly late, bursty or
 * with gaps) into exact 20 ms G.711 frames on a continuous timeline. The bytes are never
 * decoded: the media engine publishes them unchanged as PCMU/PCMA.
 *
 * Timeline: the first timestamped message anchors it; after that the expected timestamp
 * of the next byte is the anchor plus everything appended so far (audio and silence), at
 * 8 samples per ms. Twilio's timestamp is in whole ms, so it is only compared with that
 * expectation, never trusted to sub-ms precision:
 * - ahead by more than half a frame: the gap is filled with silence (capped at
 *   maxGapFillMs) so the agent's VAD and turn detection see time pass;
 * - within the slack below: appended as is (timestamp rounding, not a real gap);
 * - behind: the part already emitted is trimmed; if nothing is left it is a duplicate.
 * There is no reordering: the WebSocket is ordered TCP, so "late" means a duplicate or a
 * retransmission, and holding audio back to wait for it would only add latency.
 */
import { PbError } from '../errors.js';
import { silenceByte, type Codec } from './g711.js';

export interface InboundFramerOptions {
  codec?: Codec;
  sampleRateHz?: 8000;
  frameMs?: 20;
  /** A timestamp gap longer than this is filled only up to this much silence. Default 1000. */
  maxGapFillMs?: number;
  /** Told the length of each silence inserted for a timestamp gap (metrics). */
  onGapFilled?: (ms: number) => void;
}

export interface InboundFramerStats {
  /** Frames emitted, silence included. */
  frames: number;
  /** Payload bytes received, dropped ones included. */
  bytesIn: number;
  /** Timestamp gaps that were filled with silence. */
  gapsFilled: number;
  /** Total silence inserted for gaps (not the padding added by flush). */
  silenceFilledMs: number;
  /** Messages dropped because all of their audio had already been emitted (duplicates). */
  lateDropped: number;
}

const SAMPLE_RATE_HZ = 8000;
const FRAME_MS = 20;
const SAMPLES_PER_MS = SAMPLE_RATE_HZ / 1000;
const FRAME_SAMPLES = FRAME_MS * SAMPLES_PER_MS;
const GAP_THRESHOLD_SAMPLES = FRAME_SAMPLES / 2;
// Payloads that are not whole ms long (Twilio's are 20 ms, but nothing guarantees it)
// produce timestamps up to 1 ms early; trimming that would cut real audio and click.
const BEHIND_SLACK_SAMPLES = SAMPLES_PER_MS;
// A timestamp this far behind is a clock restart, not a duplicate; without re-anchoring,
// every later message would be dropped as late for the rest of the call.
const RESYNC_BEHIND_SAMPLES = 5000 * SAMPLES_PER_MS;

/** Turns Twilio inbound media payloads into exact 20 ms G.711 frames on a continuous timeline. */
export class InboundFramer {
  readonly #onFrame: (g711: Uint8Array, filled: boolean) => void;
  /** The frame being built holds gap-fill silence. */
  #filled = false;
  readonly #silence: number;
  readonly #maxGapFillSamples: number;
  readonly #onGapFilled?: (ms: number) => void;
  // Each frame is a fresh array pre-filled with the law's silence code and handed off to
  // the consumer (which may hold it while the room is not ready), so the tail beyond
  // #fill is already silence: gap filling and flush padding only move #fill.
  #frame: Uint8Array;
  #fill = 0;
  /** Timeline position (samples since stream start) of the next sample; unset until a timestamp arrives. */
  #cursor: number | undefined;
  #frames = 0;
  #bytesIn = 0;
  #gapsFilled = 0;
  #silenceFilledSamples = 0;
  #lateDropped = 0;

  /** `filled`: the frame holds silence we inserted for a timestamp gap (lost packets). */
  constructor(
    onFrame: (g711: Uint8Array, filled: boolean) => void,
    options: InboundFramerOptions = {},
  ) {
    const { codec = 'mulaw', sampleRateHz = 8000, frameMs = 20, maxGapFillMs = 1000 } = options;
    const problems: string[] = [];
    if (codec !== 'mulaw' && codec !== 'alaw')
      problems.push(`codec must be 'mulaw' or 'alaw', got ${String(codec)}`);
    if (sampleRateHz !== SAMPLE_RATE_HZ)
      problems.push(`sampleRateHz must be 8000, got ${String(sampleRateHz)}`);
    if (frameMs !== FRAME_MS) problems.push(`frameMs must be 20, got ${String(frameMs)}`);
    if (!Number.isFinite(maxGapFillMs) || maxGapFillMs < 0)
      problems.push(`maxGapFillMs must be a finite number >= 0, got ${String(maxGapFillMs)}`);
    if (problems.length > 0)
      throw new PbError('PB_ERR_CONFIG', `InboundFramer: ${problems.join('; ')}`);
    this.#onFrame = onFrame;
    this.#onGapFilled = options.onGapFilled;
    this.#silence = silenceByte(codec);
    this.#frame = this.#freshFrame();
    this.#maxGapFillSamples = Math.round(maxGapFillMs * SAMPLES_PER_MS);
  }

  /** Appends one media payload (raw G.711 bytes, already base64-decoded). */
  push(payload: Uint8Array, timestampMs?: number): void {
    this.#bytesIn += payload.length;
    if (payload.length === 0) return;
    let skip = 0;
    // NaN (an unparsable timestamp string) is treated like no timestamp.
    if (timestampMs !== undefined && Number.isFinite(timestampMs)) {
      const start = Math.round(timestampMs * SAMPLES_PER_MS);
      if (this.#cursor === undefined) {
        this.#cursor = start;
      } else {
        const delta = start - this.#cursor;
        if (delta > GAP_THRESHOLD_SAMPLES) {
          const fill = Math.min(delta, this.#maxGapFillSamples);
          if (fill > 0) {
            this.#gapsFilled++;
            this.#fillSilence(fill);
            this.#onGapFilled?.(fill / SAMPLES_PER_MS);
          }
          // Past the cap the rest of the gap is skipped, not owed: re-anchor on this message.
          this.#cursor = start;
        } else if (delta < -RESYNC_BEHIND_SAMPLES) {
          this.#cursor = start;
        } else if (delta < -BEHIND_SLACK_SAMPLES) {
          if (-delta >= payload.length) {
            this.#lateDropped++;
            return;
          }
          skip = -delta;
        }
      }
    }
    this.#append(payload, skip);
  }

  /** Emits any remaining partial frame padded with silence. */
  flush(): void {
    if (this.#fill === 0) return;
    // The padding is emitted time, so the timeline counts it like any other sample.
    if (this.#cursor !== undefined) this.#cursor += FRAME_SAMPLES - this.#fill;
    this.#fill = FRAME_SAMPLES;
    this.#emit();
  }

  /** A snapshot of the counters. */
  get stats(): InboundFramerStats {
    return {
      frames: this.#frames,
      bytesIn: this.#bytesIn,
      gapsFilled: this.#gapsFilled,
      silenceFilledMs: this.#silenceFilledSamples / SAMPLES_PER_MS,
      lateDropped: this.#lateDropped,
    };
  }

  #append(payload: Uint8Array, from: number): void {
    for (let src = from; src < payload.length;) {
      const n = Math.min(payload.length - src, FRAME_SAMPLES - this.#fill);
      this.#frame.set(payload.subarray(src, src + n), this.#fill);
      src += n;
      this.#advance(n);
    }
  }

  // Silence is the silence code rather than a repeat-fade of the last frame: the far end is a
  // voice agent, whose VAD should see a gap as a gap, not as a stretched syllable.
  #fillSilence(samples: number): void {
    this.#silenceFilledSamples += samples;
    while (samples > 0) {
      const n = Math.min(samples, FRAME_SAMPLES - this.#fill);
      samples -= n;
      this.#filled = true;
      this.#advance(n);
    }
  }

  // State is updated before the callback runs, so a throwing or re-entrant onFrame
  // leaves the framer consistent.
  #advance(samples: number): void {
    this.#fill += samples;
    if (this.#cursor !== undefined) this.#cursor += samples;
    if (this.#fill === FRAME_SAMPLES) this.#emit();
  }

  #freshFrame(): Uint8Array {
    return new Uint8Array(FRAME_SAMPLES).fill(this.#silence);
  }

  #emit(): void {
    const frame = this.#frame;
    this.#frame = this.#freshFrame();
    const filled = this.#filled;
    this.#fill = 0;
    this.#filled = false;
    this.#frames++;
    this.#onFrame(frame, filled);
  }
}

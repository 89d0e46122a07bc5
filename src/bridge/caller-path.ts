import { decodeBase64Into } from '../audio/base64.js';
import { peakOf, type Codec } from '../audio/g711.js';
import { InboundFramer } from '../audio/inbound-framer.js';
import type { Metrics } from '../server/metrics.js';
import { InboundPump } from './inbound-pump.js';

/** Below this peak a frame counts as silence (about -54 dBFS): comfort noise, not speech. */
export const SILENCE_PEAK = 64;
/** After a hold, held silence is skipped until at most this much is buffered. */
const CATCH_UP_TARGET_MS = 60;
const FRAME_MS = 20;

export interface CallerPathOptions {
  codec: Codec;
  holdMs: number;
  metrics: Metrics;
  /** Hands one 20 ms G.711 frame to the media engine. */
  send: (frame: Uint8Array) => void;
  /** Sees every caller frame's peak (voice activity, for barge-in). */
  onFrame: (peak: number) => void;
  /**
   * What becomes of audio held until the agent listens: delivered (inbound: the caller's
   * first words), or dropped (outbound: the callee's "Hello?" is the greeting's cue, and
   * replayed it would reach an agent already greeting, as a barge-in).
   */
  heldBeforeListening: 'deliver' | 'discard';
}

/**
 * The caller's audio on its way to the room: base64 decoded into one buffer, re-framed
 * on Twilio's timestamp timeline (gaps filled with silence), held while nobody can hear
 * it, and caught up after a hold (silence skipped, speech never). The engine plays what
 * it is given in real time, so how much it holds is known without asking: a virtual
 * clock of when it will have played everything handed to it.
 */
export class CallerPath {
  private readonly framer: InboundFramer;
  private readonly pump: InboundPump;
  private readonly decodeBuf = Buffer.alloc(64 * 1024);
  private lastMediaAt = 0;
  private playedUntil = 0;
  frames = 0;

  constructor(private readonly opts: CallerPathOptions) {
    const { metrics, codec } = opts;
    this.pump = new InboundPump({
      maxHeldFrames: Math.ceil(opts.holdMs / FRAME_MS),
      send: (frame) => {
        const now = performance.now();
        this.playedUntil = Math.max(now, this.playedUntil) + FRAME_MS;
        opts.send(frame);
      },
      catchUp: {
        queuedMs: () => Math.max(0, this.playedUntil - performance.now()),
        isSilent: (frame) => peakOf(codec, frame) < SILENCE_PEAK,
        targetMs: CATCH_UP_TARGET_MS,
        frameMs: FRAME_MS,
      },
      onSent: (receivedAt) =>
        metrics.hopLatency.observe({ direction: 'inbound' }, performance.now() - receivedAt),
      onDrop: () => metrics.drops.inc({ direction: 'inbound' }),
    });
    this.framer = new InboundFramer(
      (frame, filled) => {
        this.frames++;
        metrics.frames.inc({ direction: 'inbound' });
        metrics.queueDepth.observe({ direction: 'inbound' }, this.pump.depth);
        opts.onFrame(peakOf(codec, frame));
        this.pump.push(frame, this.lastMediaAt, filled);
      },
      { codec, maxGapFillMs: 1000, onGapFilled: (ms) => metrics.gapFillMs.inc(ms) },
    );
  }

  /** One Twilio `media` payload; false when it decodes to nothing. */
  onMedia(payload: string, timestampMs: number | undefined, receivedAt: number): boolean {
    let n: number;
    try {
      n = decodeBase64Into(payload, this.decodeBuf);
    } catch {
      return false;
    }
    if (n === 0) return false;
    this.lastMediaAt = receivedAt;
    this.framer.push(this.decodeBuf.subarray(0, n), timestampMs);
    return true;
  }

  /** Nobody can hear the caller (connecting, reconnecting, the agent not listening yet). */
  hold(): void {
    this.pump.pause();
  }

  release(): void {
    this.pump.resume();
  }

  /** The agent listens from now on: what was held for it goes by `heldBeforeListening`. */
  agentListening(): void {
    // The frames dropped still count as received.
    if (this.opts.heldBeforeListening === 'discard') this.pump.discard();
  }

  get held(): number {
    return this.pump.depth;
  }

  get holding(): boolean {
    return this.pump.isPaused;
  }

  close(): void {
    this.pump.close();
  }

  stats() {
    return {
      framesIn: this.frames,
      dropsIn: this.pump.drops,
      catchUpSkipped: this.pump.skipped,
      gapFillMs: this.framer.stats.silenceFilledMs,
      maxQueueIn: this.pump.maxDepth,
    };
  }
}

import { AudioFrame } from '@livekit/rtc-node';
import type { AgentAudioOutput } from './output.js';
import type { AgentStatePublisher } from './state.js';

const FRAME_MS = 20;

interface Utterance {
  abort: AbortController;
  done: Promise<boolean>;
  /** Runs once the interrupted utterance's audio is gone, before `listening` is published. */
  onCut?: () => Promise<unknown>;
}

/**
 * Plays PCM16 through the agent's audio source, one utterance at a time, and keeps
 * `lk.agent.state` honest: `speaking` from the first frame until playout ends or is
 * interrupted, `listening` after. Interrupting clears the source's queue so the caller's
 * barge-in stops our audio within one queue length.
 */
export class Player {
  private current?: Utterance;

  constructor(
    private readonly output: AgentAudioOutput,
    private readonly state: AgentStatePublisher,
  ) {}

  get playing(): boolean {
    return this.current !== undefined;
  }

  /**
   * Plays `samples` (at the output's rate) after interrupting whatever plays now.
   * Resolves true when it played to the end, false when interrupted.
   */
  async play(samples: Int16Array): Promise<boolean> {
    await this.interrupt();
    const abort = new AbortController();
    const current: Utterance = { abort, done: Promise.resolve(false) };
    current.done = this.run(samples, current);
    this.current = current;
    try {
      return await current.done;
    } finally {
      if (this.current === current) this.current = undefined;
    }
  }

  /**
   * Stops playback now; resolves once the player is idle. `onCut` runs when nothing of the
   * utterance is left to play and before the state leaves `speaking` (the barge-in
   * announcement). Resolves true if something was playing.
   */
  async interrupt(onCut?: () => Promise<unknown>): Promise<boolean> {
    const current = this.current;
    if (!current) return false;
    current.onCut ??= onCut;
    current.abort.abort();
    this.output.source.clearQueue();
    await current.done;
    return true;
  }

  private async run(samples: Int16Array, utterance: Utterance): Promise<boolean> {
    const { source, sampleRateHz } = this.output;
    const { signal } = utterance.abort;
    const frameSamples = (sampleRateHz * FRAME_MS) / 1000;
    await this.state.set('speaking');
    try {
      for (let off = 0; off < samples.length; off += frameSamples) {
        if (signal.aborted || source.closed) return false;
        const frame = new Int16Array(frameSamples);
        frame.set(samples.subarray(off, Math.min(off + frameSamples, samples.length)));
        await source.captureFrame(new AudioFrame(frame, sampleRateHz, 1, frameSamples));
      }
      // captureFrame returns once a frame is queued; wait until the queue has played out.
      if (!signal.aborted && !source.closed) await source.waitForPlayout();
      return !signal.aborted;
    } finally {
      if (signal.aborted && !source.closed) {
        // A frame whose capture was waiting for room in the queue landed after the clear.
        source.clearQueue();
        await utterance.onCut?.().catch(() => undefined);
      }
      // A newer utterance may already be starting; it sets `speaking` again itself.
      await this.state.set('listening');
    }
  }
}

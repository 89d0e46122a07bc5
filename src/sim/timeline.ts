import { rmsDbfs } from '../audio/analysis.js';
import { FRAME_SAMPLES } from './media-sender.js';

/**
 * Turn-taking measurements on the stream clock (ms since stream start): who spoke when,
 * how long the agent took to answer, and where its playback ran dry.
 */
export interface Span {
  startMs: number;
  endMs: number;
}

/** A frame is audible above this level; samples above AUDIBLE_SAMPLE mark the exact onset. */
const AUDIBLE_DBFS = -40;
const AUDIBLE_SAMPLE = Math.round(Math.pow(10, AUDIBLE_DBFS / 20) * 32768);

/**
 * Utterances: runs of audible 20 ms frames, merged across silences shorter than
 * `mergeGapMs`; each start is refined to the first audible sample.
 */
export function utterances(samples: Int16Array, mergeGapMs: number): Span[] {
  const spans: Span[] = [];
  for (let i = 0; i < samples.length; i += FRAME_SAMPLES) {
    const frame = samples.subarray(i, Math.min(samples.length, i + FRAME_SAMPLES));
    if (rmsDbfs(frame) <= AUDIBLE_DBFS) continue;
    let first = 0;
    while (first < frame.length && Math.abs(frame[first]!) < AUDIBLE_SAMPLE) first++;
    // RMS above the threshold means some sample is above it too, so `first` is in range.
    const startMs = (i + first) / 8;
    const endMs = (i + frame.length) / 8;
    const last = spans[spans.length - 1];
    if (last && startMs - last.endMs < mergeGapMs) last.endMs = endMs;
    else spans.push({ startMs, endMs });
  }
  return spans;
}

export interface TurnLatency {
  /** When the caller stopped speaking (stream clock). */
  callerEndMs: number;
  /** End of caller speech → first audible agent sample; null when the agent never answered. */
  latencyMs: number | null;
  /** The agent was already talking when the caller stopped (echo, or talking over). */
  overlapped: boolean;
}

/**
 * For each caller turn, the delay until the next agent utterance starts, if that happens
 * before the caller's next turn ends.
 */
export function turnLatencies(caller: Span[], agent: Span[]): TurnLatency[] {
  return caller.map((turn, i) => {
    const E = turn.endMs;
    const overlapped = agent.some((a) => a.startMs <= E && a.endMs > E);
    const nextEnd = caller[i + 1]?.endMs ?? Infinity;
    const answer = agent.find((a) => a.startMs >= E && a.startMs < nextEnd);
    return {
      callerEndMs: E,
      latencyMs: !overlapped && answer ? Math.round(answer.startMs - E) : null,
      overlapped,
    };
  });
}

export interface Underrun {
  /** Stream time at which playback ran dry. */
  atMs: number;
  gapMs: number;
}

/**
 * Underruns heard: stretches where the playback queue was dry for at least one frame's
 * worth of samples, between two pieces of agent audio less than `utteranceGapMs` apart
 * (inside one utterance). Longer silences are pauses between utterances, not underruns.
 */
export function underruns(suppliedPerFrame: readonly number[], utteranceGapMs = 300): Underrun[] {
  const out: Underrun[] = [];
  let seenAudio = false;
  let dryStart = -1; // sample index where the current dry stretch began
  let drySamples = 0;
  suppliedPerFrame.forEach((supplied, k) => {
    const base = k * FRAME_SAMPLES;
    if (supplied > 0) {
      if (seenAudio && dryStart >= 0) {
        const gapMs = drySamples / 8;
        if (drySamples >= FRAME_SAMPLES && gapMs < utteranceGapMs)
          out.push({ atMs: dryStart / 8, gapMs });
      }
      seenAudio = true;
      dryStart = -1;
      drySamples = 0;
    }
    // Samples of this frame after the supplied ones were silence from a dry queue.
    if (supplied < FRAME_SAMPLES) {
      if (dryStart < 0) dryStart = base + supplied;
      drySamples += FRAME_SAMPLES - supplied;
    }
  });
  return out;
}

/** First audible sample of the agent, in ms of stream time, or null. */
export function firstAudibleMs(heard: Int16Array): number | null {
  const spans = utterances(heard, 0);
  return spans[0]?.startMs ?? null;
}

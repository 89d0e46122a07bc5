import { TrackKind, type RemoteParticipant, type RemoteTrackPublication } from '@livekit/rtc-node';

/**
 * Catches a subscription that delivers digital silence while the far end is talking.
 * rtc-node 0.13 sometimes binds a freshly subscribed audio track to a native stream that
 * never gets its RTP (docs/decisions.md, "Known issue: a silent subscription"): the SFU
 * hears the participant, we decode zeros, and whoever listens on our side hears nothing
 * for the rest of the call. Resubscribing gets a new receiver and fixes it (a probe here:
 * 32 subscriptions, 6 silent, all 6 recovered).
 *
 * "Digital silence" is a peak of at most `maxPeak`: the broken stream is exact zeros, and
 * a live one carrying silence decodes to Opus comfort noise of ±1, while any speech is
 * hundreds of times louder. Only silence that lasts `thresholdMs` while the far end says
 * it is speaking (its agent state, or the SFU's active-speaker list) counts.
 */
export interface SilentTrackWatchdogOptions {
  /** Whether the far end is talking, in its own or the SFU's view. */
  isSpeaking: () => boolean;
  /** Called when `thresholdMs` of digital silence arrived while isSpeaking() held. */
  onSilent: () => void;
  thresholdMs?: number;
  /** The loudest sample still counted as digital silence. */
  maxPeak?: number;
  /** Fires at most this many times per watchdog (per call), so a false alarm stays cheap. */
  maxFires?: number;
}

export class SilentTrackWatchdog {
  private silentWhileSpeakingMs = 0;
  private fires = 0;
  private readonly thresholdMs: number;
  private readonly maxPeak: number;
  private readonly maxFires: number;

  constructor(private readonly opts: SilentTrackWatchdogOptions) {
    this.thresholdMs = opts.thresholdMs ?? 1500;
    this.maxPeak = opts.maxPeak ?? 4;
    this.maxFires = opts.maxFires ?? 3;
  }

  get fired(): number {
    return this.fires;
  }

  /** Feed every decoded frame of the watched track. */
  onFrame(samples: Int16Array, durationMs: number): void {
    if (!this.isDigitalSilence(samples)) {
      this.silentWhileSpeakingMs = 0;
      return;
    }
    if (!this.opts.isSpeaking()) return;
    this.silentWhileSpeakingMs += durationMs;
    if (this.silentWhileSpeakingMs < this.thresholdMs || this.fires >= this.maxFires) return;
    this.fires++;
    this.silentWhileSpeakingMs = 0;
    this.opts.onSilent();
  }

  /** A new subscription starts with a clean slate. */
  reset(): void {
    this.silentWhileSpeakingMs = 0;
  }

  private isDigitalSilence(samples: Int16Array): boolean {
    const max = this.maxPeak;
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      if (v > max || v < -max) return false;
    }
    return true;
  }
}

/** Long enough for the SFU to tear the old downtrack down before the new one is asked for. */
const RENEW_PAUSE_MS = 250;

/** The subscribed audio track among `participants`: the one a watchdog renews. */
export function subscribedAudioOf(
  participants: Iterable<RemoteParticipant>,
): RemoteTrackPublication | undefined {
  for (const p of participants) {
    for (const pub of p.trackPublications.values()) {
      if (pub.kind === TrackKind.KIND_AUDIO && pub.subscribed) return pub;
    }
  }
  return undefined;
}

/**
 * Drops `pub`'s subscription and asks for a fresh one, which gets a new native receiver,
 * RENEW_PAUSE_MS later unless `stillWanted()` then says no. Returns the timer, for teardown.
 */
export function renewSubscription(
  pub: RemoteTrackPublication,
  stillWanted: () => boolean = () => true,
): NodeJS.Timeout {
  pub.setSubscribed(false);
  return setTimeout(() => {
    if (stillWanted()) pub.setSubscribed(true);
  }, RENEW_PAUSE_MS);
}

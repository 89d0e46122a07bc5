/**
 * Paces agent audio towards Twilio. Twilio plays what it receives in order and
 * queues the rest, so everything sent ahead of real time becomes delay the caller
 * hears after a barge-in. We therefore keep an estimate of Twilio's playback queue
 * (a virtual clock of when it will have played all we sent) and hold frames
 * locally once that queue is `leadMs` deep; the local backlog is bounded too.
 *
 * Jitter ratchets that queue up (a late frame starts playback later, and the frames
 * behind it keep that delay) until it sits at `leadMs`, latency the caller hears on
 * every reply. So silent frames are skipped while Twilio holds more than `catchUpMs`:
 * the queue shrinks back in each pause, and speech is never skipped.
 */
export interface OutboundPacerOptions {
  streamSid: string;
  /** How far ahead of real time Twilio may be fed (OUTBOUND_QUEUE_MS). */
  leadMs: number;
  /** Silence is skipped while Twilio's queue is deeper than this (default 0.8 × leadMs). */
  catchUpMs?: number;
  /** Local backlog bound; beyond it the oldest frames are dropped and counted. */
  backlogMs?: number;
  /** A mark every N frames tells us what the caller has actually heard. */
  markEveryFrames?: number;
  frameMs?: number;
  send: (message: string) => void;
  now?: () => number;
  /** Called with ms between a frame's arrival and its send. */
  onHop?: (ms: number) => void;
  /** Twilio ran dry mid-utterance (the caller heard a gap in the agent's speech). */
  onUnderrun?: () => void;
  /** A frame was dropped because the local backlog was full. */
  onDrop?: () => void;
  /** A frame went to Twilio (load-test tracing). */
  onSent?: (silent: boolean) => void;
}

export interface OutboundStats {
  frames: number;
  underruns: number;
  drops: number;
  /** Silent frames not sent because Twilio's queue was deeper than catchUpMs. */
  skipped: number;
  clears: number;
  marksSent: number;
  marksEchoed: number;
  /** Echoes of marks that were still queued at a `clear`: Twilio returns them unplayed. */
  marksCleared: number;
  maxQueueFrames: number;
  /** Frames the caller has heard, from the last echoed mark. */
  playedFrames: number;
}

interface Pending {
  payload: string;
  silent: boolean;
  receivedAt: number;
}

export class OutboundPacer {
  readonly stats: OutboundStats = {
    frames: 0,
    underruns: 0,
    drops: 0,
    skipped: 0,
    clears: 0,
    marksSent: 0,
    marksEchoed: 0,
    marksCleared: 0,
    maxQueueFrames: 0,
    playedFrames: 0,
  };
  private playedUntil = 0;
  private readonly backlog: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private lastSentSilent = true;
  private closed = false;
  private readonly frameMs: number;
  private readonly maxBacklog: number;
  private readonly catchUpMs: number;
  private readonly markEvery: number;
  private readonly now: () => number;
  private readonly prefix: string;
  /** Mark name → frames sent when it was sent. */
  private readonly marks = new Map<string, number>();
  /**
   * Marks outstanding at a `clear`. Twilio echoes every mark still in its buffer when it
   * clears, so such an echo says nothing about what the caller heard or when.
   */
  private readonly clearedMarks = new Set<string>();

  constructor(private readonly opts: OutboundPacerOptions) {
    this.frameMs = opts.frameMs ?? 20;
    this.maxBacklog = Math.max(1, Math.floor((opts.backlogMs ?? 1000) / this.frameMs));
    this.markEvery = opts.markEveryFrames ?? 10;
    // 0.8: measured at 25 calls here, half the lead cut the round trip p50 by 20 ms more but
    // more than doubled the gaps callers heard (21 vs 9 per call-minute, BENCHMARKS.md).
    this.catchUpMs = opts.catchUpMs ?? opts.leadMs * 0.8;
    this.now = opts.now ?? (() => performance.now());
    // Built once: the hot path only concatenates the payload.
    this.prefix = `{"event":"media","streamSid":"${opts.streamSid}","media":{"payload":"`;
  }

  /** Milliseconds of audio Twilio holds but has not played yet (estimated). */
  twilioQueuedMs(): number {
    return Math.max(0, this.playedUntil - this.now());
  }

  get backlogFrames(): number {
    return this.backlog.length;
  }

  /** Queues one 20 ms frame of base64 μ-law; sends now if Twilio's queue allows. */
  push(payload: string, silent: boolean, receivedAt = this.now()): void {
    if (this.closed) return;
    if (
      silent &&
      (this.backlog.length > 0 || this.twilioQueuedMs() + this.frameMs > this.catchUpMs)
    ) {
      this.stats.skipped++;
      return;
    }
    if (this.backlog.length === 0 && this.twilioQueuedMs() < this.opts.leadMs) {
      this.sendNow({ payload, silent, receivedAt });
      return;
    }
    if (this.backlog.length >= this.maxBacklog) {
      this.backlog.shift();
      this.stats.drops++;
      this.opts.onDrop?.();
    }
    this.backlog.push({ payload, silent, receivedAt });
    if (this.backlog.length > this.stats.maxQueueFrames)
      this.stats.maxQueueFrames = this.backlog.length;
    this.schedule();
  }

  /**
   * Barge-in: drop what Twilio and we still hold, so the caller stops hearing stale
   * agent audio at once. Returns whether `clear` was sent. `force` sends it even when
   * our estimate says Twilio's queue is empty: its real buffer also holds network
   * jitter we cannot see, and a needless clear costs nothing.
   */
  clear(force = false): boolean {
    if (this.closed) return false;
    const had = force || this.twilioQueuedMs() > 0 || this.backlog.length > 0;
    this.backlog.length = 0;
    this.playedUntil = 0;
    this.lastSentSilent = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!had) return false;
    for (const name of this.marks.keys()) this.clearedMarks.add(name);
    this.marks.clear();
    this.opts.send(`{"event":"clear","streamSid":"${this.opts.streamSid}"}`);
    this.stats.clears++;
    return true;
  }

  /** The Twilio media message for one base64 payload (built from the cached prefix). */
  mediaMessage(payload: string): string {
    return this.prefix + payload + '"}}';
  }

  /** Sends a named mark now; Twilio echoes it when playback reaches it. */
  mark(name: string): void {
    if (this.closed) return;
    this.marks.set(name, this.stats.frames);
    this.stats.marksSent++;
    this.opts.send(
      JSON.stringify({ event: 'mark', streamSid: this.opts.streamSid, mark: { name } }),
    );
  }

  /** A mark came back: the caller has heard everything sent before it. Returns the lag in ms, if ours. */
  onMarkEcho(name: string): number | undefined {
    if (this.clearedMarks.delete(name)) {
      this.stats.marksCleared++;
      return undefined;
    }
    const at = this.marks.get(name);
    if (at === undefined) return undefined;
    this.marks.delete(name);
    this.stats.marksEchoed++;
    this.stats.playedFrames = Math.max(this.stats.playedFrames, at);
    return (this.stats.frames - at) * this.frameMs;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.backlog.length = 0;
    this.marks.clear();
    this.clearedMarks.clear();
  }

  private sendNow(p: Pending): void {
    const now = this.now();
    // Twilio ran dry mid-utterance: the caller heard a gap in the agent's speech.
    if (
      !p.silent &&
      !this.lastSentSilent &&
      this.playedUntil > 0 &&
      now > this.playedUntil + this.frameMs / 2
    ) {
      this.stats.underruns++;
      this.opts.onUnderrun?.();
    }
    this.playedUntil = Math.max(now, this.playedUntil) + this.frameMs;
    this.lastSentSilent = p.silent;
    this.opts.send(this.mediaMessage(p.payload));
    this.stats.frames++;
    this.opts.onHop?.(now - p.receivedAt);
    this.opts.onSent?.(p.silent);
    if (this.stats.frames % this.markEvery === 0) this.mark(`pb-${this.stats.frames}`);
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    const wait = Math.max(1, this.twilioQueuedMs() - this.opts.leadMs + 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      while (this.backlog.length > 0 && this.twilioQueuedMs() < this.opts.leadMs)
        this.sendNow(this.backlog.shift()!);
      if (this.backlog.length > 0) this.schedule();
    }, wait);
  }
}

/**
 * Feeds caller frames to LiveKit in order, one capture at a time. While the room is
 * not ready (connecting, reconnecting) frames are held up to a bound, oldest dropped
 * beyond it, and sent when it is: early caller speech is delayed, not lost.
 *
 * Held audio would otherwise become permanent latency: LiveKit's source plays it out in
 * real time, so a 600 ms connect left every later frame 600 ms late for the whole call.
 * With `catchUp`, after each resume the pump skips *silent* frames while more than
 * `catchUp.targetMs` is buffered (held here plus queued in the source), and stops
 * skipping for good once the backlog is down to the target. Speech is never skipped, and
 * mid-call gaps and bursts are left alone (catch-up only runs after a pause).
 */
export interface InboundPumpCatchUp {
  /** Audio already handed to LiveKit and not yet played out, ms. */
  queuedMs: () => number;
  isSilent: (pcm: Int16Array) => boolean;
  targetMs: number;
  frameMs: number;
}

export interface InboundPumpOptions {
  maxHeldFrames: number;
  capture: (pcm: Int16Array) => Promise<void>;
  catchUp?: InboundPumpCatchUp;
  onCaptured?: (receivedAt: number) => void;
  onDrop?: () => void;
  onError?: (err: unknown) => void;
}

export class InboundPump {
  private readonly queue: { pcm: Int16Array; receivedAt: number }[] = [];
  private running = false;
  private paused = true;
  private closed = false;
  private catchingUp = false;
  maxDepth = 0;
  drops = 0;
  /** Silent frames skipped to work off audio held while the room was not ready. */
  skipped = 0;

  constructor(private readonly opts: InboundPumpOptions) {}

  get depth(): number {
    return this.queue.length;
  }

  push(pcm: Int16Array, receivedAt: number): void {
    if (this.closed) return;
    if (this.queue.length >= this.opts.maxHeldFrames) {
      this.queue.shift();
      this.drops++;
      this.opts.onDrop?.();
    }
    this.queue.push({ pcm, receivedAt });
    if (this.queue.length > this.maxDepth) this.maxDepth = this.queue.length;
    this.kick();
  }

  /** Hold frames (room not ready). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (this.opts.catchUp) this.catchingUp = true;
    this.kick();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private kick(): void {
    if (this.running || this.paused || this.closed) return;
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
      if (!this.paused && !this.closed && this.queue.length > 0) this.kick();
    });
  }

  /** While catching up: true for a silent frame when the backlog is above target. */
  private shouldSkip(pcm: Int16Array): boolean {
    const c = this.opts.catchUp!;
    const backlogMs = c.queuedMs() + (this.queue.length + 1) * c.frameMs;
    if (backlogMs <= c.targetMs) {
      this.catchingUp = false;
      return false;
    }
    if (!c.isSilent(pcm)) return false;
    this.skipped++;
    return true;
  }

  private async drain(): Promise<void> {
    while (!this.paused && !this.closed && this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (this.catchingUp && this.shouldSkip(next.pcm)) continue;
      try {
        await this.opts.capture(next.pcm);
        this.opts.onCaptured?.(next.receivedAt);
      } catch (err) {
        if (this.closed) return;
        this.opts.onError?.(err);
      }
    }
  }
}

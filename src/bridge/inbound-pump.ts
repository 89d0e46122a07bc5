/**
 * Feeds caller frames to the media engine in order. While the room cannot take them
 * (connecting, reconnecting, nobody listening yet) frames are held up to a bound, oldest
 * dropped beyond it, and sent when it can: early caller speech is delayed, not lost.
 *
 * Held audio would otherwise become permanent latency: the engine plays caller audio out
 * in real time, so a 600 ms hold left every later frame 600 ms late for the whole call.
 * With `catchUp`, after each resume the pump skips *silent* frames while more than
 * `catchUp.targetMs` is buffered (held here plus queued in the engine), and stops
 * skipping for good once the backlog is down to the target. Speech is never skipped, and
 * mid-call gaps and bursts are left alone (catch-up only runs after a pause).
 */
export interface InboundPumpCatchUp {
  /** Audio already handed to the engine and not yet played out, ms. */
  queuedMs: () => number;
  isSilent: (frame: Uint8Array) => boolean;
  targetMs: number;
  frameMs: number;
}

export interface InboundPumpOptions {
  maxHeldFrames: number;
  send: (frame: Uint8Array) => void;
  catchUp?: InboundPumpCatchUp;
  onSent?: (receivedAt: number) => void;
  onDrop?: () => void;
}

export class InboundPump {
  private readonly queue: { frame: Uint8Array; receivedAt: number }[] = [];
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

  get isPaused(): boolean {
    return this.paused;
  }

  push(frame: Uint8Array, receivedAt: number): void {
    if (this.closed) return;
    if (!this.paused && this.queue.length === 0 && !this.catchingUp) {
      this.sendOne(frame, receivedAt);
      return;
    }
    if (this.queue.length >= this.opts.maxHeldFrames) {
      this.queue.shift();
      this.drops++;
      this.opts.onDrop?.();
    }
    this.queue.push({ frame, receivedAt });
    if (this.queue.length > this.maxDepth) this.maxDepth = this.queue.length;
    this.drain();
  }

  /** Hold frames (room not ready). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (this.closed) return;
    this.paused = false;
    if (this.opts.catchUp) this.catchingUp = true;
    this.drain();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  /** While catching up: true for a silent frame when the backlog is above target. */
  private shouldSkip(frame: Uint8Array): boolean {
    const c = this.opts.catchUp!;
    const backlogMs = c.queuedMs() + (this.queue.length + 1) * c.frameMs;
    if (backlogMs <= c.targetMs) {
      this.catchingUp = false;
      return false;
    }
    if (!c.isSilent(frame)) return false;
    this.skipped++;
    return true;
  }

  private drain(): void {
    while (!this.paused && !this.closed && this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (this.catchingUp && this.shouldSkip(next.frame)) continue;
      this.sendOne(next.frame, next.receivedAt);
    }
  }

  private sendOne(frame: Uint8Array, receivedAt: number): void {
    this.opts.send(frame);
    this.opts.onSent?.(receivedAt);
  }
}

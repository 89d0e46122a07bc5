/**
 * Feeds caller frames to the media engine in order. While the room cannot take them
 * (connecting, reconnecting, nobody listening yet) frames are held up to a bound, oldest
 * dropped beyond it, and sent when it can: early caller speech is delayed, not lost.
 *
 * Held audio would otherwise become permanent latency: the engine plays caller audio out
 * in real time, so a 600 ms hold left every later frame 600 ms late for the whole call.
 * With `catchUp`, after each resume the pump skips *silent* frames while more than
 * `catchUp.targetMs` is buffered (held here plus queued in the engine), until the backlog
 * is down to the target. Mid-call the same holds for audio that arrives in a burst (the
 * sender stalled, then caught up: measured, a 330 ms stall of the load generator left a
 * call 330 ms late to its end), except silence we inserted for a timestamp gap: that is
 * the timeline of lost packets, kept as it was. Speech is never skipped.
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
  private readonly queue: { frame: Uint8Array; receivedAt: number; filled: boolean }[] = [];
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

  /** `filled`: gap-fill silence (InboundFramer), never skipped mid-call. */
  push(frame: Uint8Array, receivedAt: number, filled = false): void {
    if (this.closed) return;
    if (!this.paused && this.queue.length === 0 && !this.catchingUp) {
      if (!filled && this.opts.catchUp && this.behind(frame)) {
        this.skipped++;
        return;
      }
      this.sendOne(frame, receivedAt);
      return;
    }
    if (this.queue.length >= this.opts.maxHeldFrames) {
      this.queue.shift();
      this.drops++;
      this.opts.onDrop?.();
    }
    this.queue.push({ frame, receivedAt, filled });
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

  /** Drops every held frame. */
  discard(): void {
    this.queue.length = 0;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  /** Mid-call: a silent frame while more than the target is already queued in the engine. */
  private behind(frame: Uint8Array): boolean {
    const c = this.opts.catchUp!;
    return c.queuedMs() + c.frameMs > c.targetMs && c.isSilent(frame);
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

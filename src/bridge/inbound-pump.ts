/**
 * Feeds caller frames to LiveKit in order, one capture at a time. While the room is
 * not ready (connecting, reconnecting) frames are held up to a bound, oldest dropped
 * beyond it, and sent when it is: early caller audio is delayed, not lost.
 */
export interface InboundPumpOptions {
  maxHeldFrames: number;
  capture: (pcm: Int16Array) => Promise<void>;
  onCaptured?: (receivedAt: number) => void;
  onDrop?: () => void;
  onError?: (err: unknown) => void;
}

export class InboundPump {
  private readonly queue: { pcm: Int16Array; receivedAt: number }[] = [];
  private running = false;
  private paused = true;
  private closed = false;
  maxDepth = 0;
  drops = 0;

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

  private async drain(): Promise<void> {
    while (!this.paused && !this.closed && this.queue.length > 0) {
      const next = this.queue.shift()!;
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

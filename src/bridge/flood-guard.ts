/**
 * Tells a message flood from the backlog of our own stall. Twilio sends about 50 media
 * messages a second (plus marks and DTMF). When this process stalls (a GC pause, a
 * burst of CPU on a loaded machine), those messages wait in the socket and are then
 * processed in one burst: counted when processed, a 10 s stall looks like a flood of
 * 500. So the guard is a token bucket of `limitPerSecond` (burst and refill), and a
 * pause between two messages of at least `gapMs` adds the traffic that pause could
 * legitimately have held (`legitPerSecond` × the pause) as extra credit for the burst
 * that follows. A peer that floods without pausing is caught as before; one that
 * pauses to earn credit still averages no more than legitimate traffic.
 */
export interface FloodGuardOptions {
  limitPerSecond?: number;
  legitPerSecond?: number;
  gapMs?: number;
}

export class FloodGuard {
  readonly limitPerSecond: number;
  private readonly legitPerSecond: number;
  private readonly gapMs: number;
  private tokens: number;
  private credit = 0;
  private last?: number;

  constructor(opts: FloodGuardOptions = {}) {
    this.limitPerSecond = opts.limitPerSecond ?? 500;
    this.legitPerSecond = opts.legitPerSecond ?? 100;
    this.gapMs = opts.gapMs ?? 100;
    this.tokens = this.limitPerSecond;
  }

  /** Counts one message processed at `nowMs` (performance.now()); false once it is a flood. */
  admit(nowMs: number): boolean {
    if (this.last !== undefined) {
      const gap = Math.max(0, nowMs - this.last);
      this.tokens = Math.min(this.limitPerSecond, this.tokens + (gap * this.limitPerSecond) / 1000);
      if (gap >= this.gapMs)
        this.credit = Math.max(this.credit, (gap * this.legitPerSecond) / 1000);
      // A full bucket means the burst is over: leftover credit must not pile up for later.
      else if (this.tokens >= this.limitPerSecond) this.credit = 0;
    }
    this.last = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (this.credit >= 1) {
      this.credit -= 1;
      return true;
    }
    return false;
  }
}

/** Who is keeping the line from being "silent". */
export type Busy = 'caller' | 'agent';

/**
 * Counts silence on the line: time in which neither the caller speaks nor the agent
 * speaks or thinks. After `afterMs` it fires `onPrompt` ("are you still there?"); after a
 * second `afterMs` without caller speech it fires `onGiveUp` (goodbye, end the call).
 */
export class SilenceWatchdog {
  private timer?: NodeJS.Timeout;
  private prompted = false;
  private readonly busy = new Set<Busy>();
  private stopped = false;

  constructor(
    private readonly afterMs: number,
    private readonly onPrompt: () => void,
    private readonly onGiveUp: () => void,
  ) {}

  /** Starts counting (call once the call is up). */
  start(): void {
    this.arm();
  }

  /** Marks the caller or the agent as (no longer) busy; caller speech also clears a prompt. */
  set(who: Busy, isBusy: boolean): void {
    if (isBusy) {
      this.busy.add(who);
      if (who === 'caller') this.prompted = false;
    } else {
      this.busy.delete(who);
    }
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.busy.size > 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      if (!this.prompted) {
        this.prompted = true;
        // Count the second period now; if the prompt is spoken, `set('agent', …)` restarts
        // it from the end of the prompt, and if it is not, the call still ends.
        this.arm();
        this.onPrompt();
      } else {
        this.stop();
        this.onGiveUp();
      }
    }, this.afterMs);
  }
}

import type { Logger } from '../log.js';

/** Frames of silence before a loud one make it a burst's start (the probe leaves 800 ms). */
const QUIET_FRAMES = 10;

/**
 * Load-test tracing (PHONEBRIDGE_TRACE_ONSETS=true): logs the wall-clock time at which
 * each tone burst of the round-trip probe passes this stage, as the engine and the mirror
 * do in Go (engine/internal/onset), so BENCHMARKS.md can say where the round trip goes.
 */
export class OnsetTrace {
  private quiet = 0;

  constructor(
    private readonly log: Logger,
    private readonly stage: string,
  ) {}

  feed(loud: boolean): void {
    if (!loud) {
      this.quiet++;
      return;
    }
    if (this.quiet >= QUIET_FRAMES) {
      const atUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
      this.log.info({ stage: this.stage, atUs }, 'onset');
    }
    this.quiet = 0;
  }
}

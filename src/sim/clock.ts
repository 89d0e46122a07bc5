import { performance } from 'node:perf_hooks';
import { setTimeout as sleepFor } from 'node:timers/promises';

/**
 * Monotonic time in ms and sleeping until an absolute instant. Pacing code schedules by
 * absolute deadlines (start + n × 20 ms) so timer lateness never accumulates into drift.
 */
export interface Clock {
  now(): number;
  /** Resolves at `atMs` (or at once if past); rejects with the signal's reason on abort. */
  sleepUntil(atMs: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: `performance.now()` and timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  async sleepUntil(atMs, signal) {
    signal?.throwIfAborted();
    const waitMs = atMs - performance.now();
    if (waitMs > 0) await sleepFor(waitMs, undefined, { signal });
  },
};

/**
 * A virtual clock for tests: sleeping jumps time forward to the deadline at once, so a
 * minute of paced media runs in milliseconds and every deadline is observable exactly.
 */
export class VirtualClock implements Clock {
  #now: number;
  constructor(startMs = 0) {
    this.#now = startMs;
  }
  now(): number {
    return this.#now;
  }
  async sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    // Yield so other virtual tasks interleave in deadline order as far as microtasks allow.
    await Promise.resolve();
    if (atMs > this.#now) this.#now = atMs;
    signal?.throwIfAborted();
  }
}

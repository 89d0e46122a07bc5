/**
 * A small, dependency-free microbenchmark harness. Every case is a pair (ours, baseline)
 * timed in the same process, interleaved round by round, so machine speed, CPU frequency
 * and thermal drift cancel out of the ratio that is reported.
 */

/**
 * Runs the measured operation `n` times and returns something derived from the results,
 * so the JIT cannot discard the work. Each function owns its loop: calling a different
 * closure per iteration from one shared loop would make that call site megamorphic and
 * measure the call, not the codec.
 */
export type Loop = (n: number) => number;

export interface MeasureOptions {
  /** Warm-up per contender before timing, so both run optimised code. */
  warmupMs: number;
  /** Target duration of one timed round. */
  roundMs: number;
  /** Timed rounds per contender; the median is reported. */
  rounds: number;
}

export interface Measurement {
  /** Median nanoseconds per operation. */
  nsPerOp: number;
  /** (max - min) / median across rounds: how noisy the number is. */
  spread: number;
}

let sink = 0;

/** Keeps results observable after the run (and lets the caller print a checksum). */
export function checksum(): number {
  return sink;
}

function timeNs(loop: Loop, n: number): number {
  const t0 = process.hrtime.bigint();
  sink = (sink + loop(n)) | 0;
  return Number(process.hrtime.bigint() - t0);
}

/** Iterations that take about `targetMs`, found by doubling (this also warms up). */
function calibrate(loop: Loop, targetMs: number): number {
  let n = 1;
  for (;;) {
    const ns = timeNs(loop, n);
    if (ns >= 5e6 || n >= 2 ** 30) return Math.max(1, Math.round((n * targetMs * 1e6) / ns));
    n *= 2;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Times `ours` and `baseline` in interleaved rounds; returns the median ns/op of each. */
export function measurePair(
  ours: Loop,
  baseline: Loop,
  opts: MeasureOptions,
): { ours: Measurement; baseline: Measurement } {
  const contenders = [ours, baseline];
  const iterations = contenders.map((loop) => {
    const n = calibrate(loop, opts.warmupMs / 4);
    const warmEnd = Date.now() + opts.warmupMs;
    while (Date.now() < warmEnd) timeNs(loop, n);
    return calibrate(loop, opts.roundMs);
  });
  const samples: number[][] = [[], []];
  for (let r = 0; r < opts.rounds; r++) {
    // Alternate which contender goes first so neither always inherits the other's GC debt.
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order)
      samples[i]!.push(timeNs(contenders[i]!, iterations[i]!) / iterations[i]!);
  }
  const summarise = (xs: number[]): Measurement => {
    const m = median(xs);
    return { nsPerOp: m, spread: (Math.max(...xs) - Math.min(...xs)) / m };
  };
  return { ours: summarise(samples[0]!), baseline: summarise(samples[1]!) };
}

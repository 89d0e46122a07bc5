import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ENGINE_DIR } from '../src/engine/build.js';

const run = promisify(execFile);

/** One Go benchmark result line. */
export interface GoBench {
  name: string;
  nsPerOp: number;
  bytesPerOp: number;
  allocsPerOp: number;
}

/** Ours against the baseline timed in the same run (`speedup` = baseline / ours). */
export interface GoPair {
  name: string;
  ours: string;
  baseline: string;
  oursNs: number;
  baselineNs: number;
  speedup: number;
  oursAllocs: number;
  baselineAllocs: number;
}

/** The engine's per-frame work, paired with what it replaces, as `npm run bench` reports it. */
export const PAIRS: { name: string; ours: string; baseline: string }[] = [
  {
    name: 'Opus decode, 20 ms to 8 kHz',
    ours: 'BenchmarkDecode20msAt8k',
    baseline: 'BenchmarkGopusDecode20msAt8k',
  },
  {
    name: 'μ-law encode of a 20 ms frame',
    ours: 'BenchmarkEncodeFrame',
    baseline: 'BenchmarkEncodeFrameReference',
  },
];

/** Whole per-frame paths, reported alone: ns per 20 ms frame and % of a core per call. */
export const PATHS: { name: string; bench: string }[] = [
  { name: 'agent frame: reorder, Opus decode, μ-law, framing', bench: 'BenchmarkAgentFrame' },
  { name: 'caller frame: pacing', bench: 'BenchmarkCallerFramePacing' },
  { name: 'caller frame: read from the pipe', bench: 'BenchmarkReadCallerAudio' },
  { name: 'agent frame: write to the pipe', bench: 'BenchmarkAppendAgentAudio' },
  {
    name: 'mirror: Opus encode 20 ms at 48 kHz (complexity 1)',
    bench: 'BenchmarkEncode20msAt48k/complexity1',
  },
];

/** Runs the engine's Go benchmarks (`go test -bench`) and parses their lines. */
export async function runGoBenchmarks(quick: boolean): Promise<GoBench[]> {
  const { stdout } = await run(
    'go',
    [
      'test',
      '-run',
      '^$',
      '-bench',
      '.',
      '-benchmem',
      '-benchtime',
      quick ? '200x' : '1s',
      './internal/...',
    ],
    {
      cwd: ENGINE_DIR,
      env: { ...process.env, CGO_ENABLED: '1', CGO_CFLAGS: process.env.CGO_CFLAGS ?? '-O2 -w' },
      timeout: 10 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const out: GoBench[] = [];
  const re =
    /^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns\/op(?:\s+([\d.]+) B\/op\s+([\d.]+) allocs\/op)?/gm;
  for (const m of stdout.matchAll(re)) {
    out.push({
      name: m[1]!,
      nsPerOp: Number(m[2]),
      bytesPerOp: Number(m[3] ?? 0),
      allocsPerOp: Number(m[4] ?? 0),
    });
  }
  return out;
}

export function pairUp(results: GoBench[]): GoPair[] {
  const by = new Map(results.map((r) => [r.name, r]));
  return PAIRS.flatMap((p) => {
    const o = by.get(p.ours);
    const b = by.get(p.baseline);
    if (!o || !b) return [];
    return [
      {
        name: p.name,
        ours: p.ours,
        baseline: p.baseline,
        oursNs: o.nsPerOp,
        baselineNs: b.nsPerOp,
        speedup: b.nsPerOp / o.nsPerOp,
        oursAllocs: o.allocsPerOp,
        baselineAllocs: b.allocsPerOp,
      },
    ];
  });
}

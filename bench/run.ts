/**
 * `npm run bench`: G.711 and media-path microbenchmarks, each reported as a ratio against
 * a baseline timed in the same run. Absolute ns depend on the machine; the ratio is the
 * number to compare across machines. See bench/README.md for the method.
 *
 *   npm run bench                 table
 *   npm run bench -- --json       one JSON document on stdout
 *   npm run bench -- --filter law only cases whose name contains "law"
 *   npm run bench -- --quick      fewer, shorter rounds (smoke test)
 *   npm run bench -- --no-engine  skip the media engine's Go benchmarks
 */
import { parseArgs } from 'node:util';
import { cases, type Case } from './cases.js';
import { PATHS, pairUp, runGoBenchmarks } from './engine.js';
import { checksum, measurePair, type Measurement, type MeasureOptions } from './harness.js';

interface Row {
  name: string;
  unit: Case['unit'];
  baseline: string;
  oursNsPerUnit: number;
  baselineNsPerUnit: number;
  /** baseline time / our time: > 1 means we are faster. */
  speedup: number;
  oursUnitsPerSecond: number;
  baselineUnitsPerSecond: number;
  /** Worse of the two (max - min) / median across rounds. */
  noise: number;
}

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    filter: { type: 'string' },
    'no-engine': { type: 'boolean', default: false },
  },
});

const opts: MeasureOptions = args.quick
  ? { warmupMs: 40, roundMs: 10, rounds: 3 }
  : { warmupMs: 150, roundMs: 60, rounds: 7 };

function toRow(c: Case, m: { ours: Measurement; baseline: Measurement }): Row {
  const ours = m.ours.nsPerOp / c.unitsPerOp;
  const base = m.baseline.nsPerOp / c.unitsPerOp;
  return {
    name: c.name,
    unit: c.unit,
    baseline: c.baselineLabel,
    oursNsPerUnit: ours,
    baselineNsPerUnit: base,
    speedup: base / ours,
    oursUnitsPerSecond: 1e9 / ours,
    baselineUnitsPerSecond: 1e9 / base,
    noise: Math.max(m.ours.spread, m.baseline.spread),
  };
}

function fmtNs(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}

function fmtRate(perSecond: number): string {
  if (perSecond >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G/s`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M/s`;
  return `${(perSecond / 1e3).toFixed(0)} k/s`;
}

function printTable(rows: Row[]): void {
  const header = [
    'case',
    'unit',
    'ours ns',
    'base ns',
    'speed-up',
    'ours rate',
    'base rate',
    'noise',
    'baseline',
  ];
  const body = rows.map((r) => [
    r.name,
    r.unit,
    fmtNs(r.oursNsPerUnit),
    fmtNs(r.baselineNsPerUnit),
    `${r.speedup.toFixed(2)}x`,
    fmtRate(r.oursUnitsPerSecond),
    fmtRate(r.baselineUnitsPerSecond),
    `${(r.noise * 100).toFixed(0)}%`,
    r.baseline,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 || i === 8 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}

const selected = cases.filter((c) => args.filter === undefined || c.name.includes(args.filter));
const started = Date.now();
const rows: Row[] = [];
for (const c of selected) {
  c.check?.();
  rows.push(toRow(c, measurePair(c.ours, c.baseline, opts)));
  if (!args.json) process.stderr.write('.');
}
const goResults = args['no-engine'] ? [] : await runGoBenchmarks(args.quick);
const goPairs = pairUp(goResults);
const goPaths = PATHS.flatMap((p) => {
  const r = goResults.find((g) => g.name === p.bench);
  // 50 frames a second per call: ns per frame × 50 / 1e9 s = share of a core.
  return r ? [{ ...p, nsPerFrame: r.nsPerOp, percentOfCorePerCall: (r.nsPerOp * 50) / 1e7 }] : [];
});
const elapsedMs = Date.now() - started;

if (args.json) {
  console.log(
    JSON.stringify(
      {
        node: process.version,
        arch: process.arch,
        options: opts,
        elapsedMs,
        checksum: checksum(),
        rows,
        engine: { pairs: goPairs, paths: goPaths, raw: goResults },
      },
      null,
      2,
    ),
  );
} else {
  process.stderr.write('\n');
  printTable(rows);
  if (goResults.length > 0) {
    console.log('\nmedia engine (Go, go test -bench), ours against the baseline in the same run:');
    for (const p of goPairs)
      console.log(
        `  ${p.name.padEnd(48)} ${p.oursNs.toFixed(0).padStart(8)} ns  vs ${p.baselineNs.toFixed(0).padStart(8)} ns  ${p.speedup.toFixed(2)}x  allocs ${p.oursAllocs} vs ${p.baselineAllocs}`,
      );
    console.log('media engine per-frame paths (50 frames a second per call):');
    for (const p of goPaths)
      console.log(
        `  ${p.name.padEnd(48)} ${p.nsPerFrame.toFixed(0).padStart(8)} ns/frame  ${p.percentOfCorePerCall.toFixed(3)} % of a core per call`,
      );
  }
  console.log(
    `\n${process.version} ${process.arch}; median of ${opts.rounds} rounds of ~${opts.roundMs} ms after ${opts.warmupMs} ms warm-up; ` +
      `ns per unit; speed-up = baseline/ours; ${(elapsedMs / 1000).toFixed(1)} s (checksum ${checksum()})`,
  );
}

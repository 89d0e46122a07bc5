/**
 * Draws docs/loadtest.png from loadtest results (bench/results/loadtest-*.json) with no
 * dependencies: a tiny raster, a 3x5 bitmap font and a PNG encoder on node:zlib.
 *
 *   npx tsx scripts/plot.ts bench/results/loadtest-A.json [more.json …] [--out docs/loadtest.png]
 *
 * Left panel: CPU (% of one core) per concurrent call for phonebridge (with its media engine
 * where the results have it), the responder and
 * livekit-server. Right panel: loopback round trip p50/p95 (ms) and calls failed (%).
 * The x axis is the number of concurrent calls. Later files win for the same call count.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { deflateSync } from 'node:zlib';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string', default: 'docs/loadtest.png' } },
});

type RGB = [number, number, number];
const W = 1000;
const H = 440;
const px = new Uint8Array(W * H * 3).fill(255);
function set(x: number, y: number, c: RGB): void {
  x = Math.round(x);
  y = Math.round(y);
  if (x < 0 || y < 0 || x >= W || y >= H) return;
  px.set(c, (y * W + x) * 3);
}
function rect(x0: number, y0: number, w: number, h: number, c: RGB): void {
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) set(x0 + x, y0 + y, c);
}
function line(x0: number, y0: number, x1: number, y1: number, c: RGB, t = 2, dash = 0): void {
  const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let i = 0; i <= n; i++) {
    if (dash && Math.floor(i / dash) % 2) continue;
    const x = x0 + ((x1 - x0) * i) / n;
    const y = y0 + ((y1 - y0) * i) / n;
    rect(x - t / 2, y - t / 2, t, t, c);
  }
}

// 3x5 font: five rows of three pixels per glyph.
const FONT: Record<string, string> = {
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001010010010',
  '8': '111101111101111',
  '9': '111101111001111',
  A: '010101111101101',
  B: '110101110101110',
  C: '011100100100011',
  D: '110101101101110',
  E: '111100110100111',
  F: '111100110100100',
  G: '011100101101011',
  H: '101101111101101',
  I: '111010010010111',
  J: '001001001101010',
  K: '101101110101101',
  L: '100100100100111',
  M: '101111111101101',
  N: '110101101101101',
  O: '010101101101010',
  P: '110101110100100',
  Q: '010101101110011',
  R: '110101110101101',
  S: '011100010001110',
  T: '111010010010010',
  U: '101101101101111',
  V: '101101101101010',
  W: '101101111111101',
  X: '101101010101101',
  Y: '101101010010010',
  Z: '111001010100111',
  ' ': '000000000000000',
  '%': '101001010100101',
  '.': '000000000000010',
  '/': '001001010100100',
  '(': '010100100100010',
  ')': '010001001001010',
  '-': '000000111000000',
  ':': '000010000010000',
  '=': '000111000111000',
  ',': '000000000010100',
  '<': '001010100010001',
  '>': '100010001010100',
};
function text(
  s: string,
  x: number,
  y: number,
  c: RGB,
  scale = 2,
  align: 'l' | 'c' | 'r' = 'l',
): void {
  const w = s.length * 4 * scale;
  let cx = align === 'l' ? x : align === 'c' ? x - w / 2 : x - w;
  for (const ch of s.toUpperCase()) {
    const g = FONT[ch] ?? FONT[' ']!;
    for (let r = 0; r < 5; r++)
      for (let q = 0; q < 3; q++)
        if (g[r * 3 + q] === '1') rect(cx + q * scale, y + r * scale, scale, scale, c);
    cx += 4 * scale;
  }
}

function png(): Buffer {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (b: Buffer): number => {
    let c = -1;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr[8] = 8;
  ihdr[9] = 2; // truecolour RGB
  const raw = Buffer.alloc((W * 3 + 1) * H);
  for (let y = 0; y < H; y++)
    Buffer.from(px.buffer, y * W * 3, W * 3).copy(raw, y * (W * 3 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

interface Point {
  calls: number;
  pb: number | null;
  resp: number | null;
  lk: number | null;
  p50: number | null;
  p95: number | null;
  failedPct: number;
}
const MIN_SAMPLES = 20;
const byCalls = new Map<number, Point>();
for (const f of positionals) {
  const doc = JSON.parse(readFileSync(f, 'utf8')) as {
    results: {
      scenario: { concurrent: number };
      cpuPercentOfOneCore: {
        phonebridge: number | null;
        /** Node + its media engine (results since the engine; older files lack it). */
        bridge?: number | null;
        responder: number | null;
        livekitServer: number | null;
      };
      report: {
        calls: { total: number; failed: number };
        latency: { p50Ms: number | null; p95Ms: number | null; samples: number };
        server: { peakConcurrentCalls: number } | null;
      } | null;
    }[];
  };
  for (const r of doc.results) {
    if (!r.report) continue;
    const n = r.report.server?.peakConcurrentCalls ?? r.scenario.concurrent;
    // A crashed process has no CPU figure (null in the JSON): no point is drawn for it.
    const per = (x: number | null): number | null =>
      x === null || !Number.isFinite(x) ? null : x / n;
    byCalls.set(r.scenario.concurrent, {
      calls: r.scenario.concurrent,
      pb: per(r.cpuPercentOfOneCore.bridge ?? r.cpuPercentOfOneCore.phonebridge),
      // When phonebridge crashed, the others' per-call figures are meaningless too.
      resp: per(
        r.cpuPercentOfOneCore.phonebridge === null ? null : r.cpuPercentOfOneCore.responder,
      ),
      lk: per(
        r.cpuPercentOfOneCore.phonebridge === null ? null : r.cpuPercentOfOneCore.livekitServer,
      ),
      // A percentile of a handful of echoes (calls that carried almost no audio) is noise.
      p50: r.report.latency.samples >= MIN_SAMPLES ? r.report.latency.p50Ms : null,
      p95: r.report.latency.samples >= MIN_SAMPLES ? r.report.latency.p95Ms : null,
      failedPct: (100 * r.report.calls.failed) / Math.max(1, r.report.calls.total),
    });
  }
}
const pts = [...byCalls.values()].sort((a, b) => a.calls - b.calls);
if (pts.length === 0) throw new Error('no results with reports in the given files');

const BLACK: RGB = [0, 0, 0];
const GREY: RGB = [200, 200, 200];
const BLUE: RGB = [31, 119, 180];
const ORANGE: RGB = [255, 127, 14];
const GREEN: RGB = [44, 160, 44];
const RED: RGB = [214, 39, 40];

function niceMax(v: number): number {
  const e = 10 ** Math.floor(Math.log10(Math.max(v, 1e-9)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}
function panel(
  x0: number,
  title: string,
  yLabel: string,
  series: { name: string; color: RGB; get: (p: Point) => number | null; dash?: number }[],
  hlines: { y: number; label: string; color: RGB }[] = [],
): void {
  const L = x0 + 70;
  const T = 50;
  const PW = 390;
  const PH = 300;
  const xMax = niceMax(Math.max(...pts.map((p) => p.calls)));
  const vals = series.flatMap((s) => pts.map(s.get)).filter((v): v is number => v !== null);
  const yMax = niceMax(Math.max(...vals, ...hlines.map((h) => h.y)) * 1.1);
  const X = (c: number) => L + (c / xMax) * PW;
  const Y = (v: number) => T + PH - (v / yMax) * PH;
  text(title, L + PW / 2, 14, BLACK, 2, 'c');
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    line(L, Y(v), L + PW, Y(v), GREY, 1);
    text(String(Math.round(v * 100) / 100), L - 8, Y(v) - 5, BLACK, 2, 'r');
    const c = (xMax * i) / 5;
    line(X(c), T + PH, X(c), T + PH + 5, BLACK, 1);
    text(String(Math.round(c)), X(c), T + PH + 10, BLACK, 2, 'c');
  }
  line(L, T, L, T + PH, BLACK, 2);
  line(L, T + PH, L + PW, T + PH, BLACK, 2);
  text('CONCURRENT CALLS', L + PW / 2, T + PH + 30, BLACK, 2, 'c');
  text(yLabel, L, T - 16, BLACK, 2, 'l');
  for (const h of hlines) {
    line(L, Y(h.y), L + PW, Y(h.y), h.color, 1, 6);
    text(h.label, L + PW - 4, Y(h.y) - 14, h.color, 2, 'r');
  }
  series.forEach((s, k) => {
    let prev: [number, number] | null = null;
    for (const p of pts) {
      const v = s.get(p);
      if (v === null) continue;
      const cur: [number, number] = [X(p.calls), Y(v)];
      if (prev) line(prev[0], prev[1], cur[0], cur[1], s.color, 2, s.dash ?? 0);
      rect(cur[0] - 4, cur[1] - 4, 9, 9, s.color);
      prev = cur;
    }
    rect(L + 14, T + 10 + k * 18, 14, 10, s.color);
    text(s.name, L + 34, T + 10 + k * 18, BLACK, 2);
  });
}

// What a call needs, from the slope between 1 and 10 calls (before the CPU runs out).
const p1 = pts.find((p) => p.calls === 1);
const p10 = pts.find((p) => p.calls === 10);
const demand = p1?.pb != null && p10?.pb != null ? (p10.pb * 10 - p1.pb) / 9 : null;
panel(
  0,
  'CPU PER CALL (% OF ONE CORE)',
  '%/CALL',
  [
    { name: 'PHONEBRIDGE AND ENGINE', color: BLUE, get: (p) => p.pb },
    { name: 'AGENT (MIRROR)', color: ORANGE, get: (p) => p.resp },
    { name: 'LIVEKIT-SERVER', color: GREEN, get: (p) => p.lk },
  ],
  [
    { y: 1, label: 'TARGET 1%', color: RED },
    ...(demand === null
      ? []
      : [{ y: demand, label: `DEMAND ${demand.toFixed(1)}% (1-10 CALLS)`, color: BLUE }]),
  ],
);
panel(
  500,
  'LOOPBACK ROUND TRIP AND FAILURES',
  'MS',
  [
    { name: 'P50 MS', color: BLUE, get: (p) => p.p50 },
    { name: 'P95 MS', color: ORANGE, get: (p) => p.p95 },
    { name: 'FAILED CALLS (% X10)', color: RED, get: (p) => p.failedPct * 10, dash: 6 },
  ],
  [{ y: 150, label: 'TARGET P95 150', color: RED }],
);
writeFileSync(values.out, png());
console.log(`wrote ${values.out} (${pts.length} points: ${pts.map((p) => p.calls).join(', ')})`);

/**
 * Where the loopback round trip goes, stage by stage: reads the onset lines a traced load
 * test wrote (`npm run loadtest -- --trace PREFIX` → PREFIX.serve.log, PREFIX.mirror.log)
 * and follows each probe burst of each call through every stage.
 *
 *   npx tsx scripts/onset-breakdown.ts PREFIX
 *
 * Stages, in path order: phonebridge got the caller's frame from Twilio; the engine wrote
 * it as RTP; the mirror decoded it; the mirror wrote its Opus; the engine decoded the
 * agent's audio; phonebridge sent it to Twilio. All clocks are this machine's wall clock.
 */
import { readFileSync } from 'node:fs';

const STAGES = [
  'bridge.frame_in',
  'engine.rtp_out',
  'mirror.in',
  'mirror.out',
  'engine.agent_decoded',
  'bridge.sent',
] as const;
/** A burst every second: a stage's onset belongs to the burst it follows within this. */
const WINDOW_US = 900_000;

const prefix = process.argv[2];
if (!prefix) {
  console.error('usage: npx tsx scripts/onset-breakdown.ts PREFIX');
  process.exit(2);
}

const byCall = new Map<string, Map<string, number[]>>();
for (const file of [`${prefix}.serve.log`, `${prefix}.mirror.log`]) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"onset"')) continue;
    let rec: { msg?: string; stage?: string; atUs?: number; callSid?: string };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.msg !== 'onset' || !rec.stage || !rec.atUs || !rec.callSid) continue;
    const stages = byCall.get(rec.callSid) ?? new Map<string, number[]>();
    byCall.set(rec.callSid, stages);
    const list = stages.get(rec.stage) ?? [];
    list.push(rec.atUs);
    stages.set(rec.stage, list);
  }
}

const hops: number[][] = STAGES.slice(1).map(() => []);
const totals: number[] = [];
let bursts = 0;
let incomplete = 0;
for (const stages of byCall.values()) {
  for (const list of stages.values()) list.sort((a, b) => a - b);
  for (const t0 of stages.get(STAGES[0]) ?? []) {
    bursts++;
    const times = [t0];
    for (const stage of STAGES.slice(1)) {
      const prev = times[times.length - 1]!;
      const next = (stages.get(stage) ?? []).find((t) => t >= prev && t - t0 < WINDOW_US);
      if (next === undefined) break;
      times.push(next);
    }
    if (times.length !== STAGES.length) {
      incomplete++;
      continue;
    }
    for (let i = 1; i < times.length; i++) hops[i - 1]!.push((times[i]! - times[i - 1]!) / 1000);
    totals.push((times[times.length - 1]! - t0) / 1000);
  }
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const fmt = (n: number) => n.toFixed(1).padStart(7);
console.log(`${byCall.size} calls, ${bursts} bursts, ${incomplete} not seen at every stage`);
console.log(`${'hop'.padEnd(46)}    p50     p95     p99   mean`);
STAGES.slice(1).forEach((stage, i) => {
  const h = hops[i]!;
  const mean = h.reduce((a, b) => a + b, 0) / (h.length || 1);
  console.log(
    `${`${STAGES[i]} → ${stage}`.padEnd(46)}${fmt(pct(h, 50))} ${fmt(pct(h, 95))} ${fmt(pct(h, 99))}${fmt(mean)}`,
  );
});
const mean = totals.reduce((a, b) => a + b, 0) / (totals.length || 1);
console.log(
  `${'phonebridge in → phonebridge out'.padEnd(46)}${fmt(pct(totals, 50))} ${fmt(pct(totals, 95))} ${fmt(pct(totals, 99))}${fmt(mean)}`,
);

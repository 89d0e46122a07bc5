/**
 * `npm run loadtest`: starts the whole stack on this machine as SEPARATE processes
 * (livekit-server, `phonebridge serve` with its media engine, `phonebridge responder` with
 * the engine's mirror agent) and runs `phonebridge load` in its own process once per
 * scenario, so each component's CPU and RSS are its own; the bridge's cost is the Node
 * process plus its engine.
 *
 *   npm run loadtest                                  # 1, 10, 50, 100, 150 calls, 60 s each
 *   npm run loadtest -- --calls 1,10,20 --duration 30
 *   npm run loadtest -- --calls 150 --duration 300     # the 5-minute target run
 *   npm run loadtest -- --soak 10 --soak-calls 50      # churn soak: calls start and end continuously
 *   npm run loadtest -- --server-node-args=--cpu-prof  # profile phonebridge (writes CPU.*.cpuprofile)
 *   PHONEBRIDGE_ENGINE_CPU_PROFILE=engine.pprof npm run loadtest -- …  # and its engine (Go pprof)
 *   npm run loadtest -- --server-log serve.log          # phonebridge at info: each call's summary
 *
 * Results: one JSON document per run in bench/results/ and a table on stdout.
 * Only 127.0.0.1 is used. Every run is bounded by --duration/--soak plus fixed grace times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RoomServiceClient } from 'livekit-server-sdk';
import { LocalLiveKit, freeTcpPort } from '../src/livekit/local.js';
import type { LoadReport } from '../src/sim/load.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ENTRY = join(ROOT, 'src/cli/entry.ts');
const TICKS = 100; // USER_HZ on Linux
/** /proc/PID/comm of the engine binary (the kernel keeps 15 characters). */
const ENGINE_COMM = 'phonebridge-eng';

const { values: v } = parseArgs({
  options: {
    calls: { type: 'string', default: '1,10,50,100,150' },
    duration: { type: 'string', default: '60' },
    ramp: { type: 'string', default: '10' },
    soak: { type: 'string' },
    'soak-calls': { type: 'string', default: '50' },
    'soak-call-seconds': { type: 'string', default: '30' },
    'settle-seconds': { type: 'string', default: '10' },
    'server-node-args': { type: 'string', default: '' },
    // phonebridge's log (info: every call's summary) to this file, for per-call figures.
    'server-log': { type: 'string' },
    // Onset tracing (PHONEBRIDGE_TRACE_ONSETS) in phonebridge, its engine and the mirror;
    // logs to <trace>.serve.log and <trace>.mirror.log, read by scripts/onset-breakdown.ts.
    trace: { type: 'string' },
    'responder-node-args': { type: 'string', default: '' },
    out: { type: 'string' },
    label: { type: 'string', default: '' },
    // accepted from the old `load --profile standard` script line
    profile: { type: 'string' },
  },
});

/** utime+stime of a process in CPU-seconds, or NaN when it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return NaN;
  }
}
function rssBytes(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}
function fdCount(pid: number | undefined): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}
function threadCount(pid: number | undefined): number {
  try {
    const m = /Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Direct children of `pid` (the media engine under `serve`, the mirror under `responder`),
 * optionally only those whose command starts with `comm` (tsx has an esbuild child too).
 */
function childPids(pid: number | undefined, comm?: string): number[] {
  if (!pid) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      if (comm && !readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith(comm)) continue;
      out.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
/** A process and its engine child, as one cost. */
function withEngineCpu(pid: number | undefined): number {
  let total = 0;
  for (const p of [pid, ...childPids(pid, ENGINE_COMM)]) total += cpuSeconds(p) || 0;
  return total;
}

type Hist = Map<string, Map<number, number>>; // direction -> le -> cumulative count
async function scrape(url: string): Promise<string> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
    return await res.text();
  } catch {
    return ''; // server busy or gone: the run records what it can
  }
}
function hopHist(text: string): Hist {
  const out: Hist = new Map();
  const re = /^phonebridge_bridge_hop_latency_ms_bucket\{([^}]*)\}\s+([0-9.eE+-]+)/gm;
  for (const m of text.matchAll(re)) {
    const labels = Object.fromEntries(
      [...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    const dir = labels.direction ?? '';
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    if (!out.has(dir)) out.set(dir, new Map());
    out.get(dir)!.set(le, Number(m[2]));
  }
  return out;
}
function metric(text: string, name: string, labels = ''): number {
  const esc = labels.replace(/[{}"]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${name}${esc}\\s+([0-9.eE+-]+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
/** Quantile of the delta between two cumulative histograms, linear inside a bucket. */
function histQuantile(before: Map<number, number>, after: Map<number, number>, q: number) {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return { count: 0, quantileMs: null, fracLe1: null, fracLe2: null };
  const target = q * total;
  let prevLe = 0;
  let prevC = 0;
  let quantileMs: number | null = null;
  for (let i = 0; i < les.length; i++) {
    const c = counts[i]!;
    if (c >= target) {
      const le = les[i]!;
      quantileMs =
        le === Infinity ? prevLe : prevLe + ((le - prevLe) * (target - prevC)) / (c - prevC || 1);
      break;
    }
    prevLe = les[i]!;
    prevC = c;
  }
  const at = (le: number) => ((after.get(le) ?? 0) - (before.get(le) ?? 0)) / total;
  return { count: total, quantileMs, fracLe1: at(1), fracLe2: at(2) };
}

function start(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
  logFile?: string,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, ENTRY, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (b: Buffer) => {
    tail = (tail + b.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  if (logFile) child.stdout.pipe(createWriteStream(logFile));
  return { name, child, tail: () => tail };
}
async function stop(p: { child: ChildProcess }, ms = 15_000): Promise<void> {
  if (p.child.exitCode !== null) return;
  const done = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), ms);
  await done;
  clearTimeout(t);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      /* not yet */
    }
    await sleep(200);
  }
  throw new Error(`${url} never became healthy`);
}

interface Sample {
  t: number;
  server: { cpu: number; rss: number; fds: number; threads: number };
  /** The media engine (child of `serve`). */
  engine: { cpu: number; rss: number; fds: number; threads: number; goroutines: number };
  responder: { cpu: number; rss: number };
  livekit: { cpu: number; rss: number };
  load: { cpu: number };
  rooms: number;
  activeCalls: number;
  /** V8 heap in use and external (ArrayBuffer) memory: RSS minus these is native. */
  heapUsed: number;
  external: number;
}

async function main(): Promise<void> {
  const token = randomBytes(16).toString('hex');
  let stopping = false;
  const lk = await LocalLiveKit.start({ onProgress: (l) => console.error(l) });
  const port = await freeTcpPort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LIVEKIT_URL: lk.url,
    LIVEKIT_API_KEY: lk.apiKey,
    LIVEKIT_API_SECRET: lk.apiSecret,
    TWILIO_AUTH_TOKEN: token,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    LOG_LEVEL: 'warn',
    AGENT_DISPATCH: 'false',
    MAX_CONCURRENT_CALLS: '1000',
    RATE_LIMIT_MAX: '100000',
  };
  const split = (a: string): string[] => a.split(' ').filter(Boolean);
  const trace = v.trace;
  const serverLog = trace ? `${trace}.serve.log` : v['server-log'];
  const traced = trace ? { PHONEBRIDGE_TRACE_ONSETS: 'true', LOG_LEVEL: 'info' } : {};
  const server = start(
    'server',
    ['serve'],
    { ...env, ...(serverLog ? { LOG_LEVEL: 'info' } : {}), ...traced },
    split(v['server-node-args']),
    serverLog,
  );
  const responder = start(
    'responder',
    ['responder', '--poll-ms', '100'],
    { ...env, ...traced },
    split(v['responder-node-args']),
    trace ? `${trace}.mirror.log` : undefined,
  );
  const crashes: { name: string; code: number | null; signal: string | null; tail: string }[] = [];
  for (const p of [server, responder])
    p.child.once('exit', (code, sig) => {
      if (stopping) return;
      crashes.push({ name: p.name, code, signal: sig, tail: p.tail() });
      console.error(`\n!! ${p.name} exited (code ${code}, signal ${sig}):\n${p.tail()}`);
    });
  const rooms = new RoomServiceClient(lk.url.replace(/^ws/, 'http'), lk.apiKey, lk.apiSecret);
  const snap = async (loadPid?: number): Promise<Sample> => {
    let text = '';
    try {
      text = await scrape(url);
    } catch {
      /* server busy */
    }
    let roomCount = NaN;
    try {
      roomCount = (await rooms.listRooms()).length;
    } catch {
      /* */
    }
    const enginePid = childPids(server.child.pid, ENGINE_COMM)[0];
    return {
      t: Date.now(),
      server: {
        cpu: cpuSeconds(server.child.pid),
        rss: rssBytes(server.child.pid),
        fds: fdCount(server.child.pid),
        threads: threadCount(server.child.pid),
      },
      engine: {
        cpu: cpuSeconds(enginePid),
        rss: rssBytes(enginePid),
        fds: fdCount(enginePid),
        threads: threadCount(enginePid),
        goroutines: metric(text, 'phonebridge_media_engine_goroutines'),
      },
      responder: {
        cpu: withEngineCpu(responder.child.pid),
        rss: rssBytes(childPids(responder.child.pid, ENGINE_COMM)[0]),
      },
      livekit: { cpu: cpuSeconds(lk.pid), rss: rssBytes(lk.pid) },
      load: { cpu: cpuSeconds(loadPid) },
      rooms: roomCount,
      activeCalls: metric(text, 'phonebridge_active_calls'),
      heapUsed: metric(text, 'nodejs_heap_size_used_bytes'),
      external: metric(text, 'nodejs_external_memory_bytes'),
    };
  };

  const results: unknown[] = [];
  const runStarted = new Date().toISOString();
  try {
    await waitHealthy(url);
    await sleep(3000); // let the server's JIT and the responder's first poll settle
    const baseline = await snap();
    console.error(`baseline: server RSS ${(baseline.server.rss / 1048576).toFixed(1)} MiB`);

    type Scenario = { calls: number; ramp: number; duration: number; concurrent: number };
    const scenarios: Scenario[] = [];
    if (v.soak) {
      const callSec = Number(v['soak-call-seconds']);
      const conc = Number(v['soak-calls']);
      const ramp = conc / (callSec + 2);
      scenarios.push({
        calls: Math.round(ramp * Number(v.soak) * 60),
        ramp,
        duration: callSec,
        concurrent: conc,
      });
    } else {
      for (const n of v.calls.split(',').map(Number)) {
        const ramp = Math.min(Number(v.ramp), n);
        scenarios.push({ calls: n, ramp, duration: Number(v.duration), concurrent: n });
      }
    }

    for (const sc of scenarios) {
      if (crashes.length) break;
      const la = loadavg()[0]!;
      console.error(
        `\n== ${sc.calls} calls (target ${sc.concurrent} concurrent), ${sc.duration}s each, ramp ${sc.ramp.toFixed(2)}/s; load average ${la.toFixed(2)}`,
      );
      const before = await snap();
      const mBefore = await scrape(url);
      const load = start(
        'load',
        [
          'load',
          '--url',
          url,
          '--calls',
          String(sc.calls),
          '--ramp',
          String(sc.ramp),
          '--duration',
          String(sc.duration),
          '--listen',
          '2',
          '--json',
        ],
        env,
      );
      let out = '';
      load.child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const samples: Sample[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await sleep(v.soak ? 15_000 : 2000);
          if (sampling) samples.push(await snap(load.child.pid));
        }
      })();
      const lastLoadCpu = { v: 0 };
      const tick = setInterval(() => {
        const c = cpuSeconds(load.child.pid);
        if (Number.isFinite(c)) lastLoadCpu.v = c;
      }, 500);
      const hardLimitMs = (sc.calls / sc.ramp + sc.duration + 120) * 1000;
      const killer = setTimeout(() => load.child.kill('SIGINT'), hardLimitMs);
      await new Promise<void>((r) => load.child.once('exit', () => r()));
      clearTimeout(killer);
      clearInterval(tick);
      sampling = false;
      await sampler;
      const end = await snap();
      const mEnd = await scrape(url);
      // After the calls: let rooms empty out and the heap settle, then look again.
      await sleep(Number(v['settle-seconds']) * 1000);
      const settled = await snap();
      let report: LoadReport | null = null;
      try {
        report = JSON.parse(out) as LoadReport;
      } catch {
        console.error(`load produced no JSON:\n${load.tail()}`);
      }
      const wall = (end.t - before.t) / 1000;
      const pct = (a: number, b: number) => Math.round(((b - a) * 1000) / wall) / 10;
      const hb = hopHist(mBefore);
      const ha = hopHist(mEnd);
      const hop = Object.fromEntries(
        ['inbound', 'outbound'].map((d) => {
          const lab = `{direction="${d}"}`;
          const n =
            metric(mEnd, 'phonebridge_bridge_hop_latency_ms_count', lab) -
            (metric(mBefore, 'phonebridge_bridge_hop_latency_ms_count', lab) || 0);
          const sum =
            metric(mEnd, 'phonebridge_bridge_hop_latency_ms_sum', lab) -
            (metric(mBefore, 'phonebridge_bridge_hop_latency_ms_sum', lab) || 0);
          return [
            d,
            {
              ...histQuantile(hb.get(d) ?? new Map(), ha.get(d) ?? new Map(), 0.99),
              meanMs: n > 0 ? sum / n : null,
            },
          ];
        }),
      );
      const peakRss = Math.max(before.server.rss, ...samples.map((s) => s.server.rss));
      const peakRooms = Math.max(0, ...samples.map((s) => s.rooms).filter(Number.isFinite));
      const drops = (t: string, d: string) =>
        metric(t, 'phonebridge_bridge_dropped_frames_total', `{direction="${d}"}`);
      const underrunsOut = (t: string) =>
        metric(t, 'phonebridge_bridge_underruns_total', `{direction="outbound"}`);
      const result = {
        date: new Date().toISOString(),
        label: v.label,
        scenario: sc,
        loadAverageAtStart: la,
        wallSeconds: wall,
        report,
        cpuPercentOfOneCore: {
          phonebridge: pct(before.server.cpu, end.server.cpu),
          engine: pct(before.engine.cpu, end.engine.cpu),
          bridge: pct(before.server.cpu + before.engine.cpu, end.server.cpu + end.engine.cpu),
          responder: pct(before.responder.cpu, end.responder.cpu),
          livekitServer: pct(before.livekit.cpu, end.livekit.cpu),
          loadGenerator: Math.round(((lastLoadCpu.v - 0) * 1000) / wall) / 10,
        },
        engine: {
          rssBaselineBytes: baseline.engine.rss,
          rssBeforeBytes: before.engine.rss,
          rssPeakBytes: Math.max(before.engine.rss, ...samples.map((s) => s.engine.rss)),
          rssAfterSettleBytes: settled.engine.rss,
          fdsBefore: before.engine.fds,
          fdsAfter: settled.engine.fds,
          threadsPeak: Math.max(...samples.map((s) => s.engine.threads).filter(Number.isFinite)),
          goroutinesBefore: before.engine.goroutines,
          goroutinesPeak: Math.max(...samples.map((s) => s.engine.goroutines)),
          goroutinesAfterSettle: settled.engine.goroutines,
        },
        phonebridge: {
          rssBaselineBytes: baseline.server.rss,
          rssBeforeBytes: before.server.rss,
          rssPeakBytes: peakRss,
          rssAfterSettleBytes: settled.server.rss,
          fdsBefore: before.server.fds,
          fdsAfter: settled.server.fds,
          threadsBefore: before.server.threads,
          threadsPeak: Math.max(...samples.map((s) => s.server.threads).filter(Number.isFinite)),
          threadsAfter: settled.server.threads,
          hopLatency: hop,
          inboundDrops: drops(mEnd, 'inbound') - drops(mBefore, 'inbound'),
          outboundDrops: drops(mEnd, 'outbound') - drops(mBefore, 'outbound'),
          outboundUnderruns: underrunsOut(mEnd) - underrunsOut(mBefore),
        },
        roomsPeak: peakRooms,
        roomsAfterSettle: settled.rooms,
        responderRssPeakBytes: Math.max(...samples.map((s) => s.responder.rss)),
        livekitRssPeakBytes: Math.max(...samples.map((s) => s.livekit.rss)),
        timeline: v.soak
          ? samples.map((s) => ({
              t: Math.round((s.t - before.t) / 1000),
              rss: s.server.rss,
              engineRss: s.engine.rss,
              engineGoroutines: s.engine.goroutines,
              fds: s.server.fds,
              threads: s.server.threads,
              rooms: s.rooms,
              calls: s.activeCalls,
              heapUsed: s.heapUsed,
              external: s.external,
            }))
          : undefined,
      };
      results.push(result);
      const r = report;
      const mib = (b: number) => (b / 1048576).toFixed(1);
      console.error(
        [
          `calls ok ${r?.calls.ok ?? '?'} failed ${r?.calls.failed ?? '?'}; peak concurrent ${r?.server?.peakConcurrentCalls ?? '?'}`,
          `round trip p50/p95/p99 ${r?.latency.p50Ms ?? '-'}/${r?.latency.p95Ms ?? '-'}/${r?.latency.p99Ms ?? '-'} ms; underruns ${r?.underruns.total ?? '?'} (${r?.underruns.perCallMinute ?? '?'}/call-min)`,
          `hop p99 in ${hop.inbound?.quantileMs?.toFixed(2) ?? '-'} ms (mean ${hop.inbound?.meanMs?.toFixed(2)}, ≤2ms ${((hop.inbound?.fracLe2 ?? 0) * 100).toFixed(1)}%), out ${hop.outbound?.quantileMs?.toFixed(2) ?? '-'} ms (mean ${hop.outbound?.meanMs?.toFixed(2)}, ≤2ms ${((hop.outbound?.fracLe2 ?? 0) * 100).toFixed(1)}%)`,
          `CPU %core: bridge ${result.cpuPercentOfOneCore.bridge} (${(result.cpuPercentOfOneCore.bridge / sc.concurrent).toFixed(2)}/call: node ${result.cpuPercentOfOneCore.phonebridge} + engine ${result.cpuPercentOfOneCore.engine}) mirror ${result.cpuPercentOfOneCore.responder} livekit ${result.cpuPercentOfOneCore.livekitServer} load ${result.cpuPercentOfOneCore.loadGenerator}`,
          `engine RSS ${mib(result.engine.rssBeforeBytes)} → peak ${mib(result.engine.rssPeakBytes)} → after ${mib(result.engine.rssAfterSettleBytes)} MiB; goroutines ${result.engine.goroutinesBefore} → ${result.engine.goroutinesPeak} → ${result.engine.goroutinesAfterSettle}`,
          `RSS phonebridge ${mib(before.server.rss)} → peak ${mib(peakRss)} → after ${mib(settled.server.rss)} MiB (baseline ${mib(baseline.server.rss)}); rooms after ${settled.rooms}; inbound drops ${result.phonebridge.inboundDrops}`,
        ].join('\n'),
      );
      if (r && r.failures.length)
        console.error(`failures: ${JSON.stringify(r.failures.slice(0, 3))}`);
      await sleep(5000);
    }
  } finally {
    stopping = true;
    await Promise.all([stop(server), stop(responder)]);
    await lk.stop();
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file =
      v.out ??
      join(dir, `loadtest-${runStarted.replace(/[:.]/g, '-')}${v.soak ? '-soak' : ''}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        {
          started: runStarted,
          machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
          args: v,
          crashes,
          results,
        },
        null,
        2,
      ),
    );
    console.error(`\nwrote ${file}`);
  }
}

await main();

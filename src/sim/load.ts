import type { Logger } from '../log.js';
import { simulateCall, type CallOptions } from './call.js';
import { realClock, type Clock } from './clock.js';
import type { TroubleOptions } from './media-sender.js';
import { scrapeProcess, type ProcessSample } from './metrics.js';
import type { CallReport } from './report.js';
import { joinUrl } from './signing.js';
import { loadSource, type AudioSourceSpec } from './sources.js';
import { percentile } from './stats.js';

export interface LoadOptions {
  url: string;
  publicUrl?: string;
  authToken: string;
  /** How many calls to place in all. */
  calls: number;
  /** New calls started per second. */
  rampPerSec: number;
  /** Length of each call's caller audio, seconds (listening time comes on top). */
  durationSeconds: number;
  /** Caller audio; default tone bursts on a known schedule (the round-trip probe). */
  source?: AudioSourceSpec;
  listenMs?: number;
  trouble?: TroubleOptions;
  /** Scrape GET /metrics for CPU and RSS. Default true. */
  metrics?: boolean;
  onProgress?: (p: LoadProgress) => void;
  clock?: Clock;
  log?: Logger;
}

export interface LoadProgress {
  total: number;
  started: number;
  active: number;
  done: number;
  failed: number;
  rejected: number;
  p95Ms: number | null;
}

export interface LoadReport {
  calls: { total: number; ok: number; failed: number; rejected: number };
  /** Round trip from the burst probe when the agent mirrors audio, else turn response latency. */
  latency: {
    kind: 'round-trip' | 'response';
    samples: number;
    /** Calls that measured at least one sample: a call that measured none heard nothing back. */
    callsMeasured: number;
    p50Ms: number | null;
    p95Ms: number | null;
    p99Ms: number | null;
  };
  timeToStreamStartP95Ms: number | null;
  underruns: { total: number; callMinutes: number; perCallMinute: number };
  server: {
    peakConcurrentCalls: number;
    cpuPercent: number;
    cpuPercentPerCall: number;
    rssBeforeBytes: number;
    rssPeakBytes: number;
    rssPerCallBytes: number;
  } | null;
  wallSeconds: number;
  /** The first few failures, for a quick look. */
  failures: { callSid: string; end: string; errors: string[] }[];
}

const METRICS_INTERVAL_MS = 1000;

function latencySamples(r: CallReport, kind: 'round-trip' | 'response'): number[] {
  if (!r.stream) return [];
  if (kind === 'round-trip') return r.stream.roundTripMs;
  return r.stream.turns.flatMap((t) => (t.latencyMs === null ? [] : [t.latencyMs]));
}

/**
 * Runs many simulated calls against a running phonebridge, ramped at `rampPerSec`, and
 * aggregates latency, underruns and the server's CPU and memory cost per call.
 */
export async function runLoad(options: LoadOptions, signal: AbortSignal): Promise<LoadReport> {
  const clock = options.clock ?? realClock;
  const spec: AudioSourceSpec = options.source ?? {
    kind: 'bursts',
    durationMs: options.durationSeconds * 1000,
  };
  // Render once (TTS or a WAV read) and share the samples among all calls.
  const samples = await loadSource(spec, signal);
  const source: AudioSourceSpec = spec.kind === 'bursts' ? spec : { kind: 'pcm', samples };
  const kind = spec.kind === 'bursts' ? 'round-trip' : 'response';
  const metricsUrl = joinUrl(options.url, '/metrics');
  const useMetrics = options.metrics ?? true;

  const progress: LoadProgress = {
    total: options.calls,
    started: 0,
    active: 0,
    done: 0,
    failed: 0,
    rejected: 0,
    p95Ms: null,
  };
  const latencies: number[] = [];
  const reports: CallReport[] = [];
  let peakActive = 0;
  const emit = (): void => options.onProgress?.({ ...progress });

  const before = useMetrics ? await scrapeProcess(metricsUrl, clock.now(), signal) : undefined;
  let peakRss = before?.rssBytes ?? 0;
  let lastSample: ProcessSample | undefined = before;
  const sampler = new AbortController();
  const sampling = (async () => {
    if (!before) return;
    try {
      for (let k = 1; ; k++) {
        await clock.sleepUntil(before.atMs + k * METRICS_INTERVAL_MS, sampler.signal);
        const s = await scrapeProcess(metricsUrl, clock.now(), sampler.signal);
        if (s) {
          peakRss = Math.max(peakRss, s.rssBytes);
          lastSample = s;
        }
      }
    } catch {
      // aborted: sampling is over
    }
  })();

  const startMs = clock.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < options.calls && !signal.aborted; i++) {
    try {
      await clock.sleepUntil(startMs + (i * 1000) / options.rampPerSec, signal);
    } catch {
      break;
    }
    progress.started++;
    progress.active++;
    peakActive = Math.max(peakActive, progress.active);
    emit();
    const callOptions: CallOptions = {
      url: options.url,
      ...(options.publicUrl !== undefined && { publicUrl: options.publicUrl }),
      authToken: options.authToken,
      source,
      listenMs: options.listenMs ?? 2000,
      ...(options.trouble && { trouble: options.trouble }),
      clock,
      ...(options.log && { log: options.log }),
    };
    running.push(
      simulateCall(callOptions, signal).then((r) => {
        reports.push(r);
        progress.active--;
        progress.done++;
        if (r.rejected) progress.rejected++;
        else if (!r.ok) progress.failed++;
        latencies.push(...latencySamples(r, kind));
        progress.p95Ms = percentile(latencies, 95);
        emit();
      }),
    );
  }
  await Promise.all(running);
  const endMs = clock.now();
  const after = before ? await scrapeProcess(metricsUrl, clock.now()) : undefined;
  sampler.abort();
  await sampling;
  const last = after ?? lastSample;

  const streams = reports.flatMap((r) => (r.stream ? [r.stream] : []));
  const callMinutes = streams.reduce((n, s) => n + s.durationMs, 0) / 60_000;
  const underrunTotal = streams.reduce((n, s) => n + s.underruns.count, 0);
  const failed = reports.filter((r) => !r.ok && !r.rejected);
  let server: LoadReport['server'] = null;
  if (before && last && last.atMs > before.atMs) {
    const cpuPercent =
      ((last.cpuSeconds - before.cpuSeconds) * 100_000) / (last.atMs - before.atMs);
    const perCall = Math.max(1, peakActive);
    server = {
      peakConcurrentCalls: peakActive,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      cpuPercentPerCall: Math.round((cpuPercent / perCall) * 100) / 100,
      rssBeforeBytes: before.rssBytes,
      rssPeakBytes: peakRss,
      rssPerCallBytes: Math.round((peakRss - before.rssBytes) / perCall),
    };
  }
  return {
    calls: {
      total: reports.length,
      ok: reports.filter((r) => r.ok && !r.rejected).length,
      failed: failed.length,
      rejected: reports.filter((r) => r.rejected).length,
    },
    latency: {
      kind,
      samples: latencies.length,
      callsMeasured: reports.filter((r) => latencySamples(r, kind).length > 0).length,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
    },
    timeToStreamStartP95Ms: percentile(
      streams.flatMap((s) => (s.timeToStreamStartMs === null ? [] : [s.timeToStreamStartMs])),
      95,
    ),
    underruns: {
      total: underrunTotal,
      callMinutes: Math.round(callMinutes * 100) / 100,
      perCallMinute: callMinutes > 0 ? Math.round((underrunTotal / callMinutes) * 100) / 100 : 0,
    },
    server,
    wallSeconds: Math.round((endMs - startMs) / 100) / 10,
    failures: failed
      .slice(0, 20)
      .map((r) => ({ callSid: r.callSid, end: r.end, errors: r.errors })),
  };
}

/** The load report as a text table. */
export function formatLoadReport(r: LoadReport): string {
  const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)} ms`);
  const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
  const rows: [string, string][] = [
    [
      'calls',
      `${r.calls.total} (ok ${r.calls.ok}, failed ${r.calls.failed}, rejected ${r.calls.rejected})`,
    ],
    [
      `${r.latency.kind} latency`,
      `p50 ${ms(r.latency.p50Ms)}  p95 ${ms(r.latency.p95Ms)}  p99 ${ms(r.latency.p99Ms)}  (${r.latency.samples} samples)`,
    ],
    ['stream start p95', ms(r.timeToStreamStartP95Ms)],
    [
      'underruns',
      `${r.underruns.perCallMinute} per call-minute (${r.underruns.total} in ${r.underruns.callMinutes} call-min)`,
    ],
    [
      'phonebridge CPU',
      r.server
        ? `${r.server.cpuPercent}% total, ${r.server.cpuPercentPerCall}% per call (peak ${r.server.peakConcurrentCalls} calls)`
        : 'no /metrics',
    ],
    [
      'phonebridge RSS',
      r.server
        ? `${mb(r.server.rssBeforeBytes)} → peak ${mb(r.server.rssPeakBytes)}, ${mb(r.server.rssPerCallBytes)} per call`
        : 'no /metrics',
    ],
    ['wall time', `${r.wallSeconds} s`],
  ];
  const lines = rows.map(([k, v]) => `  ${k.padEnd(20)} ${v}`);
  for (const f of r.failures) lines.push(`  failed ${f.callSid}: ${f.end} ${f.errors.join('; ')}`);
  return lines.join('\n');
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What /metrics reads of the media engine at scrape time. */
export interface EngineSource {
  cpuSeconds(): number;
  residentBytes(): number;
  threads(): number;
  health(): { ok: boolean };
  lastStats?: { goroutines: number };
}

/**
 * Every metric phonebridge exports, on one registry per server instance (tests run
 * several in one process). Names follow Prometheus conventions: units in the name.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const ms = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50];
  let activeSource = (): number => 0;
  let engine: EngineSource | undefined;
  let engineCpuSeen = 0;
  return {
    registry,
    /** The active-call gauge reads the registry at scrape time, so it can never drift from it. */
    setActiveSource(fn: () => number): void {
      activeSource = fn;
    },
    /** The media engine whose cost is read from /proc at scrape time. */
    setEngineSource(source: EngineSource): void {
      engine = source;
    },
    engineCpu: new Counter({
      name: 'phonebridge_media_engine_cpu_seconds_total',
      help: 'CPU time of the media engine process (user + system), every engine this instance ran',
      registers: [registry],
      collect() {
        if (!engine) return;
        const total = engine.cpuSeconds();
        if (total > engineCpuSeen) this.inc(total - engineCpuSeen);
        engineCpuSeen = Math.max(engineCpuSeen, total);
      },
    }),
    engineMemory: new Gauge({
      name: 'phonebridge_media_engine_resident_memory_bytes',
      help: 'Resident memory of the media engine process',
      registers: [registry],
      collect() {
        if (engine) this.set(engine.residentBytes());
      },
    }),
    engineThreads: new Gauge({
      name: 'phonebridge_media_engine_threads',
      help: 'OS threads of the media engine process',
      registers: [registry],
      collect() {
        if (engine) this.set(engine.threads());
      },
    }),
    engineGoroutines: new Gauge({
      name: 'phonebridge_media_engine_goroutines',
      help: 'Goroutines in the media engine, as it last reported (every 5 s)',
      registers: [registry],
      collect() {
        const g = engine?.lastStats?.goroutines;
        if (g !== undefined) this.set(g);
      },
    }),
    engineUp: new Gauge({
      name: 'phonebridge_media_engine_up',
      help: '1 while the media engine is running and has completed its handshake',
      registers: [registry],
      collect() {
        if (engine) this.set(engine.health().ok ? 1 : 0);
      },
    }),
    engineRestarts: new Counter({
      name: 'phonebridge_media_engine_restarts_total',
      help: 'Times the media engine died and was started again',
      registers: [registry],
    }),
    activeCalls: new Gauge({
      name: 'phonebridge_active_calls',
      help: 'Calls admitted and not yet ended',
      registers: [registry],
      collect() {
        this.set(activeSource());
      },
    }),
    capacity: new Gauge({
      name: 'phonebridge_capacity_calls',
      help: 'MAX_CONCURRENT_CALLS',
      registers: [registry],
    }),
    calls: new Counter({
      name: 'phonebridge_calls_total',
      help: 'Webhook outcomes: bridged, rejected_busy, rejected_error, ended_during_admission, admitted_elsewhere, signature_invalid, rate_limited, bad_request',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    outboundCalls: new Counter({
      name: 'phonebridge_outbound_calls_total',
      help: 'POST /calls outcomes: placed, rejected_busy, rejected_error, twilio_error, not_allowed',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    amdVerdicts: new Counter({
      name: 'phonebridge_amd_verdicts_total',
      help: 'Answering-machine detection verdicts (AnsweredBy) of outbound calls',
      labelNames: ['answered_by'] as const,
      registers: [registry],
    }),
    callsEnded: new Counter({
      name: 'phonebridge_calls_ended_total',
      help: 'Ended calls by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    callsMoved: new Counter({
      name: 'phonebridge_calls_moved_total',
      help: 'Calls handed between instances: adopted (stream landed here, webhook elsewhere) or released',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    callDuration: new Histogram({
      name: 'phonebridge_call_duration_seconds',
      help: 'Call duration from admission to end',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    webhookLatency: new Histogram({
      name: 'phonebridge_webhook_duration_seconds',
      help: 'Time to answer a Twilio webhook',
      labelNames: ['route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    signatureInvalid: new Counter({
      name: 'phonebridge_signature_invalid_total',
      help: 'Requests refused for a missing or invalid X-Twilio-Signature',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    frames: new Counter({
      name: 'phonebridge_bridge_frames_total',
      help: '20 ms audio frames carried, by direction (inbound = caller to agent)',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    underruns: new Counter({
      name: 'phonebridge_bridge_underruns_total',
      help: "Times the agent's speech stalled mid-utterance (Twilio's queue ran dry between two non-silent frames), by direction",
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    drops: new Counter({
      name: 'phonebridge_bridge_dropped_frames_total',
      help: 'Frames dropped because a bounded queue was full, by direction',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    gapFillMs: new Counter({
      name: 'phonebridge_bridge_gap_fill_ms_total',
      help: 'Milliseconds of silence inserted for gaps in inbound media timestamps',
      registers: [registry],
    }),
    queueDepth: new Histogram({
      name: 'phonebridge_bridge_queue_depth_frames',
      help: 'Queue depth seen when a frame is enqueued, by direction',
      labelNames: ['direction'] as const,
      buckets: [0, 1, 2, 3, 5, 8, 13, 25, 50],
      registers: [registry],
    }),
    hopLatency: new Histogram({
      name: 'phonebridge_bridge_hop_latency_ms',
      help: 'Time inside the bridge: inbound = Twilio message received to frame captured; outbound = agent frame received to WebSocket send',
      labelNames: ['direction'] as const,
      buckets: ms,
      registers: [registry],
    }),
    agentWait: new Histogram({
      name: 'phonebridge_bridge_agent_wait_ms',
      help: "Caller audio held from the stream's start until the agent subscribed to it",
      buckets: [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000],
      registers: [registry],
    }),
    reconnections: new Counter({
      name: 'phonebridge_bridge_reconnections_total',
      help: 'LiveKit reconnections',
      registers: [registry],
    }),
    clears: new Counter({
      name: 'phonebridge_bridge_clears_total',
      help: 'clear messages sent to Twilio (barge-in)',
      registers: [registry],
    }),
    protocolErrors: new Counter({
      name: 'phonebridge_stream_protocol_errors_total',
      help: 'Bad Media Stream messages, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    playbackLag: new Histogram({
      name: 'phonebridge_bridge_playback_lag_ms',
      help: 'Agent audio sent to Twilio but not yet played to the caller, from mark echoes',
      buckets: [0, 20, 40, 60, 80, 100, 150, 200, 400, 1000],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

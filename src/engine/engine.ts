import { PbError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureEngine } from './build.js';
import type { MediaCall, MediaCallHandlers, MediaLeg } from './media-leg.js';
import { readProcStats } from './procstat.js';
import { EngineProcess } from './process.js';
import {
  encodeCallerAudio,
  encodeCallFrame,
  encodeCallJson,
  encodeDtmf,
  engineEvent,
  engineStats,
  MessageType,
  type AgentAudio,
  type EngineStats,
  type JoinRequest,
} from './protocol.js';

export interface MediaEngineOptions {
  log: Logger;
  /** A built engine binary; built from engine/ (and cached) when absent. */
  binary?: string;
  logLevel?: string;
  onProgress?: (line: string) => void;
  /** Told about every restart (metrics). */
  onRestart?: () => void;
}

/** Restart delays after successive failures; an engine that stayed up a minute resets them. */
const BACKOFF_MS = [200, 1000, 2000, 5000, 10_000, 30_000];
const STABLE_AFTER_MS = 60_000;
/**
 * How long a call may take to report `left` after we asked it to leave. Longer than the
 * engine's own bound (10 s, `recoveryDrain`) on waiting out a LiveKit reconnect attempt in
 * flight, so the room is not deleted under an attempt that would re-create it.
 */
const LEAVE_TIMEOUT_MS = 15_000;

/**
 * The media engine as the bridge sees it: one supervised child process carrying every
 * call's LiveKit leg. When the process dies, every call on it is told (`engine_failed`,
 * then it counts as left), `health()` is degraded, and a fresh engine is started at once,
 * then with back-off if it keeps dying.
 */
export class MediaEngine implements MediaLeg {
  private proc?: EngineProcess;
  private starting?: Promise<void>;
  private readonly calls = new Map<number, EngineCall>();
  private nextCallId = 1;
  private failures = 0;
  private startedAt = 0;
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;
  private lastFailure = 'not started';
  private cpuOfDeadEngines = 0;
  /** The live engine's CPU seconds, sampled every second: a dead process has no /proc to read. */
  private lastCpu = 0;
  private cpuSampler?: NodeJS.Timeout;
  /** Latest engine-wide counters (goroutines, calls), every 5 s. */
  lastStats?: EngineStats;
  restarts = 0;

  private constructor(
    private readonly binary: string,
    private readonly opts: MediaEngineOptions,
  ) {}

  /** Builds the engine if needed, starts it and waits for its handshake. */
  static async start(opts: MediaEngineOptions): Promise<MediaEngine> {
    const binary = await ensureEngine({ binary: opts.binary, onProgress: opts.onProgress });
    const engine = new MediaEngine(binary, opts);
    await engine.spawn();
    engine.cpuSampler = setInterval(() => engine.cpuSeconds(), 1000);
    engine.cpuSampler.unref();
    return engine;
  }

  get pid(): number | undefined {
    return this.proc?.alive ? this.proc.pid : undefined;
  }

  /** Up and handshaken, or why not. */
  health(): { ok: boolean; reason?: string } {
    return this.proc?.alive && !this.starting
      ? { ok: true }
      : { ok: false, reason: `media engine down: ${this.lastFailure}` };
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /** CPU seconds used by every engine this supervisor ran, the live one included. */
  cpuSeconds(): number {
    const live = this.pid ? readProcStats(this.pid) : undefined;
    if (live) this.lastCpu = live.cpuSeconds;
    return this.cpuOfDeadEngines + (live ? live.cpuSeconds : 0);
  }

  residentBytes(): number {
    return (this.pid && readProcStats(this.pid)?.residentBytes) || 0;
  }

  threads(): number {
    return (this.pid && readProcStats(this.pid)?.threads) || 0;
  }

  open(join: JoinRequest, handlers: MediaCallHandlers): MediaCall {
    const proc = this.proc;
    if (!proc?.alive || this.starting)
      throw new PbError(
        'PB_ERR_ENGINE_UNAVAILABLE',
        `cannot carry the call: ${this.health().reason}`,
      );
    const id = this.nextCallId++;
    if (this.nextCallId > 0xffff_fff0) this.nextCallId = 1;
    const call = new EngineCall(id, proc, handlers, () => this.calls.delete(id));
    this.calls.set(id, call);
    proc.send(encodeCallJson(MessageType.join, id, join));
    return call;
  }

  /** Kills the live engine process (tests: what happens to calls when it dies). */
  killForTest(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc?.kill(signal);
  }

  /** Stops supervising and lets the engine leave every room and exit. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.cpuSampler);
    await this.proc?.stop();
  }

  private spawn(): Promise<void> {
    const { log } = this.opts;
    const proc = new EngineProcess(
      this.binary,
      ['bridge', '--log-level', this.opts.logLevel ?? 'info'],
      log,
      {
        onEvent: (id, ev) => this.onEvent(id, ev),
        onAudio: (a) => this.onAudio(a),
        onStats: (s) => {
          const parsed = engineStats.safeParse(s);
          if (parsed.success) this.lastStats = parsed.data;
        },
        onExit: (code, signal, reason) => this.onExit(proc, code, signal, reason),
      },
    );
    this.proc = proc;
    this.starting = proc.ready.then(
      (hello) => {
        this.starting = undefined;
        this.startedAt = Date.now();
        log.info({ pid: hello.pid, engine: hello.engine }, 'Media engine ready');
      },
      (err: unknown) => {
        this.starting = undefined;
        throw err;
      },
    );
    return this.starting;
  }

  private onEvent(id: number, raw: unknown): void {
    const call = this.calls.get(id);
    if (!call) return;
    const parsed = engineEvent.safeParse(raw);
    if (!parsed.success) {
      this.opts.log.warn(
        { callId: id, type: (raw as { type?: unknown })?.type },
        'Malformed event from the media engine dropped',
      );
      return;
    }
    call.deliver(parsed.data);
  }

  private onAudio(a: AgentAudio): void {
    this.calls.get(a.callId)?.handlers.onAudio(a);
  }

  private onExit(
    proc: EngineProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    reason: string,
  ): void {
    if (proc !== this.proc) return;
    this.cpuOfDeadEngines += this.lastCpu;
    this.lastCpu = 0;
    this.lastFailure = reason;
    const calls = [...this.calls.values()];
    this.calls.clear();
    if (this.stopped) {
      for (const c of calls) c.gone();
      return;
    }
    this.opts.log.error(
      { code, signal, calls: calls.length },
      `Media engine died (${reason}); ending its calls and restarting it`,
    );
    for (const c of calls) c.fail(reason);
    if (Date.now() - this.startedAt > STABLE_AFTER_MS) this.failures = 0;
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)]!;
    this.failures++;
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      this.opts.onRestart?.();
      this.spawn().catch((err: unknown) =>
        this.opts.log.error({ err: (err as Error).message }, 'Media engine restart failed'),
      );
    }, delay);
    this.restartTimer.unref();
  }
}

/** One call on the engine. */
class EngineCall implements MediaCall {
  private left?: Promise<Record<string, number> | undefined>;
  private settleLeft?: (stats: Record<string, number> | undefined) => void;
  private leaveTimer?: NodeJS.Timeout;
  private done = false;
  /** The engine's counters, kept when the call ended before anyone asked it to leave. */
  private finalStats?: Record<string, number>;

  constructor(
    readonly id: number,
    private readonly proc: EngineProcess,
    readonly handlers: MediaCallHandlers,
    private readonly forget: () => void,
  ) {}

  sendCallerAudio(g711: Uint8Array): void {
    if (!this.done) this.proc.send(encodeCallerAudio(this.id, g711), true);
  }

  sendDtmf(digit: string): void {
    if (!this.done) this.proc.send(encodeDtmf(this.id, digit));
  }

  setAttributes(attributes: Record<string, string>): void {
    if (!this.done)
      this.proc.send(encodeCallJson(MessageType.setAttributes, this.id, { attributes }));
  }

  replyRpc(id: string, reply: { payload: string } | { error: string }): void {
    if (this.done) return;
    const body =
      'error' in reply ? { id, payload: '', error: reply.error } : { id, payload: reply.payload };
    this.proc.send(encodeCallJson(MessageType.rpcReply, this.id, body));
  }

  leave(): Promise<Record<string, number> | undefined> {
    this.left ??= new Promise((resolve) => {
      if (this.done) return resolve(this.finalStats);
      this.settleLeft = resolve;
      this.proc.send(encodeCallFrame(MessageType.leave, this.id));
      // An engine that never answers must not hold a call's teardown forever.
      this.leaveTimer = setTimeout(() => this.gone(), LEAVE_TIMEOUT_MS).unref();
    });
    return this.left;
  }

  deliver(event: Parameters<MediaCallHandlers['onEvent']>[0]): void {
    if (this.done) return;
    if (event.type === 'left') {
      this.gone(event.stats);
      this.handlers.onEvent(event);
      return;
    }
    this.handlers.onEvent(event);
  }

  /** The engine died under this call. */
  fail(reason: string): void {
    if (this.done) return;
    this.handlers.onEvent({ type: 'engine_failed', reason });
    this.gone();
  }

  gone(stats?: Record<string, number>): void {
    if (!this.done) {
      this.done = true;
      this.finalStats = stats;
      this.forget();
    }
    clearTimeout(this.leaveTimer);
    this.settleLeft?.(stats);
    this.settleLeft = undefined;
  }
}

import type { Logger } from '../log.js';
import { Call, type EndReason } from './call.js';

export interface CallRegistryOptions {
  capacity: number;
  /** A call whose stream has not started by then is ended and its slot freed. */
  streamStartTimeoutMs: number;
  /** Teardown that must finish before a slot counts as free (room deletion, metrics). */
  onEnded: (call: Call, reason: EndReason) => Promise<void>;
}

export interface AdmitRequest {
  callSid: string;
  from: string;
  to: string;
  room: string;
  streamToken: string;
  log: Logger;
}

/**
 * Every active call of this instance. "Active" is admitted and not yet ended,
 * including calls between the webhook and the stream's start, so capacity holds
 * even while Twilio is still connecting.
 */
export class CallRegistry {
  private readonly calls = new Map<string, Call>();
  private readonly endings = new Set<Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: CallRegistryOptions) {}

  get active(): number {
    return this.calls.size;
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  get(callSid: string): Call | undefined {
    return this.calls.get(callSid);
  }

  all(): Call[] {
    return [...this.calls.values()];
  }

  hasRoom(): boolean {
    return this.calls.size < this.opts.capacity;
  }

  /** Reserves a slot synchronously, before any await, so concurrent webhooks cannot overshoot capacity. */
  admit(req: AdmitRequest): Call {
    if (this.calls.has(req.callSid)) throw new Error(`call ${req.callSid} is already registered`);
    const call = new Call(req.callSid, req.from, req.to, req.room, req.streamToken, req.log);
    this.calls.set(call.callSid, call);
    return call;
  }

  /**
   * Starts (or restarts) the clock for Twilio to open the stream. An outbound call waits
   * longer, for the callee to answer.
   */
  awaitStream(call: Call, timeoutMs = this.opts.streamStartTimeoutMs): void {
    call.phase = 'admitted';
    this.clearTimer(call.callSid);
    const timer = setTimeout(() => {
      if (call.phase === 'admitted') {
        call.log.warn({ timeoutMs }, 'Media stream never started; freeing the call slot');
        void this.end(call, 'stream_timeout');
      }
    }, timeoutMs);
    timer.unref();
    this.timers.set(call.callSid, timer);
  }

  /**
   * Files an outbound call, admitted under its own reference, under the CallSid Twilio
   * gave it. Does nothing for a call that has ended meanwhile.
   */
  rename(call: Call, callSid: string, log: Logger): void {
    if (call.callSid === callSid || this.calls.get(call.callSid) !== call) return;
    const timer = this.timers.get(call.callSid);
    this.calls.delete(call.callSid);
    this.timers.delete(call.callSid);
    call.callSid = callSid;
    call.log = log;
    this.calls.set(callSid, call);
    if (timer) this.timers.set(callSid, timer);
  }

  streamStarted(call: Call, streamSid: string): void {
    this.clearTimer(call.callSid);
    call.phase = 'streaming';
    call.streamSid = streamSid;
    call.streamStartedAt = Date.now();
  }

  /** Ends a call once: aborts its signal, runs teardown, then frees the slot. */
  end(call: Call, reason: EndReason): Promise<void> {
    if (call.ended) return call.ending ?? Promise.resolve();
    call.phase = 'ending';
    call.endReason = reason;
    this.clearTimer(call.callSid);
    call.abort.abort(reason);
    const ending = (async () => {
      try {
        await call.runTeardowns();
        await this.opts.onEnded(call, reason);
      } catch (err) {
        call.log.error({ err }, 'Call teardown failed');
      } finally {
        call.phase = 'ended';
        this.calls.delete(call.callSid);
      }
    })();
    call.ending = ending;
    this.endings.add(ending);
    void ending.finally(() => this.endings.delete(ending));
    return ending;
  }

  /** Ends every call, for shutdown. */
  async endAll(reason: EndReason): Promise<void> {
    await Promise.all(this.all().map((c) => this.end(c, reason)));
    await this.settled();
  }

  /** Resolves when every teardown in flight has finished. */
  async settled(): Promise<void> {
    while (this.endings.size > 0) await Promise.allSettled([...this.endings]);
  }

  private clearTimer(callSid: string): void {
    const t = this.timers.get(callSid);
    if (t) clearTimeout(t);
    this.timers.delete(callSid);
  }
}
